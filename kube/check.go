package kube

import (
	"context"
	"fmt"
	"strings"

	"net/http"

	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// Need is one permission a worker needs in a namespace.
type Need struct {
	Verb, Resource, Subresource string
}

func (n Need) String() string {
	r := n.Resource
	if n.Subresource != "" {
		r += "/" + n.Subresource
	}
	return n.Verb + " " + r
}

// Needs are the permissions a worker uses in the namespace of its Pods:
// the Pods themselves, their logs, and the Secrets of tasks with secrets.
var Needs = []Need{
	{"create", "pods", ""}, {"get", "pods", ""}, {"list", "pods", ""}, {"watch", "pods", ""}, {"delete", "pods", ""},
	{"get", "pods", "log"},
	{"create", "secrets", ""}, {"list", "secrets", ""}, {"delete", "secrets", ""},
}

// CheckNamespace says what keeps this worker's identity from running
// Pods in namespace ns: a namespace that does not exist, or permissions
// it lacks (asked with SelfSubjectAccessReview). Nil means none.
func (c *Client) CheckNamespace(ctx context.Context, ns string) []string {
	if ns == "" {
		ns = c.namespace
	}
	var problems []string
	if err := c.get(ctx, "", "namespaces", ns, nil); err != nil {
		switch {
		case isNotFound(err):
			return []string{fmt.Sprintf("namespace %s does not exist: create it (kubectl create namespace %s) or name another", ns, ns)}
		case !isForbidden(err):
			// A worker may run Pods in a namespace it may not read.
			return []string{fmt.Sprintf("cannot read namespace %s: %v", ns, clean(err))}
		}
	}
	var missing []string
	for _, n := range Needs {
		review := &k8sapi.SelfSubjectAccessReview{
			APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview",
			Spec: k8sapi.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &k8sapi.ResourceAttributes{Namespace: ns, Verb: n.Verb, Resource: n.Resource, Subresource: n.Subresource},
			},
		}
		got := &k8sapi.SelfSubjectAccessReview{}
		err := c.api.do(ctx, http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", nil, review, got)
		if err != nil {
			return append(problems, fmt.Sprintf("cannot ask the API server what this worker may do: %v", clean(err)))
		}
		if !got.Status.Allowed {
			missing = append(missing, n.String())
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("this worker's identity (from %s) may not %s in namespace %s: bind it to the Role in deploy/k8s/worker-rbac.yaml",
			c.source, strings.Join(missing, ", "), ns))
	}
	return problems
}
