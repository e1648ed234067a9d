package kube

import (
	"context"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	if _, err := c.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return []string{fmt.Sprintf("namespace %s does not exist: create it (kubectl create namespace %s) or name another", ns, ns)}
		case !apierrors.IsForbidden(err):
			// A worker may run Pods in a namespace it may not read.
			return []string{fmt.Sprintf("cannot read namespace %s: %v", ns, clean(err))}
		}
	}
	var missing []string
	for _, n := range Needs {
		review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: ns, Verb: n.Verb, Resource: n.Resource, Subresource: n.Subresource},
		}}
		got, err := c.cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
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
