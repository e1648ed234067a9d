package kube

import (
	"context"
	"net/http"

	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// These are the few requests `sluice bench k8s-fanout` makes besides a
// worker's: it prepares its namespace and counts what is left in it.

// NodeTaints returns the taints of a node.
func (c *Client) NodeTaints(ctx context.Context, name string) ([]k8sapi.Taint, error) {
	var n k8sapi.Node
	if err := c.get(ctx, "", "nodes", name, &n); err != nil {
		return nil, clean(err)
	}
	return n.Spec.Taints, nil
}

// CreateNamespace creates namespace ns; one that exists is no error.
func (c *Client) CreateNamespace(ctx context.Context, ns string) error {
	body := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}
	err := c.api.do(ctx, http.MethodPost, "/api/v1/namespaces", nil, body, nil)
	if err != nil && !isAlreadyExists(err) {
		return clean(err)
	}
	return nil
}

// Labeled counts the Pods and Secrets in namespace ns that have the
// label key.
func (c *Client) Labeled(ctx context.Context, ns, key string) (pods, secrets int, err error) {
	var pl k8sapi.PodList
	if err := c.list(ctx, ns, "pods", key, &pl); err != nil {
		return 0, 0, clean(err)
	}
	var sl k8sapi.SecretList
	if err := c.list(ctx, ns, "secrets", key, &sl); err != nil {
		return 0, 0, clean(err)
	}
	return len(pl.Items), len(sl.Items), nil
}
