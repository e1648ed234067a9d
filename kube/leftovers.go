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
// namespace when the worker may list them all, else in its namespace.
// Whose attempt is over is for the caller to judge.
func (c *Client) Leftovers(ctx context.Context) ([]Object, error) {
	var out []Object
	opts := metav1.ListOptions{LabelSelector: LabelAttempt}
	ns := ""
	pods, err := c.cs.CoreV1().Pods(ns).List(ctx, opts)
	if apierrors.IsForbidden(err) {
		ns = c.namespace
		pods, err = c.cs.CoreV1().Pods(ns).List(ctx, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("kube: list pods: %w", clean(err))
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue // on its way out
		}
		out = append(out, Object{Kind: "pod", Namespace: p.Namespace, Name: p.Name, Labels: p.Labels})
	}
	secrets, err := c.cs.CoreV1().Secrets(ns).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("kube: list secrets: %w", clean(err))
	}
	for _, s := range secrets.Items {
		out = append(out, Object{Kind: "secret", Namespace: s.Namespace, Name: s.Name, Labels: s.Labels})
	}
	return out, nil
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
