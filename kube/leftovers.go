package kube

import (
	"context"
	"fmt"
	"time"

	"net/http"
	"net/url"

	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// Object is a Pod or Secret sluice made for an attempt.
type Object struct {
	Kind      string // "pod" or "secret"
	Namespace string
	Name      string
	Labels    map[string]string
}

// Leftovers lists the Pods and Secrets of sluice's attempts, in every
// namespace when the worker may list them all, else in its namespace and
// those its tasks used since it started (a namespaced Role allows no
// more). Whose attempt is over is for the caller to judge.
func (c *Client) Leftovers(ctx context.Context) ([]Object, error) {
	var out []Object
	err := c.eachNamespace(ctx, "pods", func(ns string) error {
		var pods k8sapi.PodList
		if err := c.list(ctx, ns, "pods", LabelAttempt, &pods); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Metadata.DeletionTimestamp != nil {
				continue // on its way out
			}
			out = append(out, Object{Kind: "pod", Namespace: p.Metadata.Namespace, Name: p.Metadata.Name, Labels: p.Metadata.Labels})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = c.eachNamespace(ctx, "secrets", func(ns string) error {
		var secrets k8sapi.SecretList
		if err := c.list(ctx, ns, "secrets", LabelAttempt, &secrets); err != nil {
			return err
		}
		for _, s := range secrets.Items {
			out = append(out, Object{Kind: "secret", Namespace: s.Metadata.Namespace, Name: s.Metadata.Name, Labels: s.Metadata.Labels})
		}
		return nil
	})
	return out, err
}

// eachNamespace calls list for all namespaces at once ("") or, when that
// is forbidden, for the Client's namespace and each one it watched.
func (c *Client) eachNamespace(ctx context.Context, what string, list func(ns string) error) error {
	err := list("")
	if !isForbidden(err) {
		if err != nil {
			return fmt.Errorf("kube: list %s: %w", what, clean(err))
		}
		return nil
	}
	c.mu.Lock()
	names := []string{c.namespace}
	for ns := range c.watches {
		if ns != c.namespace {
			names = append(names, ns)
		}
	}
	c.mu.Unlock()
	for _, ns := range names {
		if err := list(ns); err != nil && !isForbidden(err) && !isNotFound(err) {
			return fmt.Errorf("kube: list %s in namespace %s: %w", what, ns, clean(err))
		}
	}
	return nil
}

// Delete deletes a Pod (with grace to stop) or a Secret.
func (c *Client) Delete(ctx context.Context, o Object, grace time.Duration) error {
	if o.Kind == "secret" {
		err := c.remove(ctx, o.Namespace, "secrets", o.Name, nil)
		if err != nil && !isNotFound(err) {
			return clean(err)
		}
		return nil
	}
	return c.deletePod(ctx, o.Namespace, o.Name, grace)
}

// list lists a resource's objects with a label selector, in namespace ns
// or ("") in all.
func (c *Client) list(ctx context.Context, ns, resource, selector string, out any) error {
	p, err := resourcePath(ns, resource, "", "")
	if err != nil {
		return err
	}
	return c.api.do(ctx, http.MethodGet, p, url.Values{"labelSelector": {selector}}, nil, out)
}
