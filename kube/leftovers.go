package kube

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	opts := metav1.ListOptions{LabelSelector: LabelAttempt}
	err := c.eachNamespace(ctx, "pods", func(ns string) error {
		pods, err := c.cs.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue // on its way out
			}
			out = append(out, Object{Kind: "pod", Namespace: p.Namespace, Name: p.Name, Labels: p.Labels})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = c.eachNamespace(ctx, "secrets", func(ns string) error {
		secrets, err := c.cs.CoreV1().Secrets(ns).List(ctx, opts)
		if err != nil {
			return err
		}
		for _, s := range secrets.Items {
			out = append(out, Object{Kind: "secret", Namespace: s.Namespace, Name: s.Name, Labels: s.Labels})
		}
		return nil
	})
	return out, err
}

// eachNamespace calls list for all namespaces at once ("") or, when that
// is forbidden, for the Client's namespace and each one it watched.
func (c *Client) eachNamespace(ctx context.Context, what string, list func(ns string) error) error {
	err := list("")
	if !apierrors.IsForbidden(err) {
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
		if err := list(ns); err != nil && !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kube: list %s in namespace %s: %w", what, ns, clean(err))
		}
	}
	return nil
}

// Delete deletes a Pod (with grace to stop) or a Secret.
func (c *Client) Delete(ctx context.Context, o Object, grace time.Duration) error {
	if o.Kind == "secret" {
		err := c.cs.CoreV1().Secrets(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return clean(err)
		}
		return nil
	}
	return c.deletePod(ctx, o.Namespace, o.Name, grace)
}
