package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/sluice-dev/sluice/api"
)

// ListPools returns every pool, by name, with its slots in use and the
// tasks waiting for it.
func (c *Client) ListPools(ctx context.Context) ([]api.Pool, error) {
	return list[api.Pool](ctx, c, "/api/v1/pools")
}

// SetPool creates a pool, or changes its slots and description. Slots may
// be 0, which holds every task of the pool back.
func (c *Client) SetPool(ctx context.Context, name string, slots int, description string) (*api.Pool, error) {
	return call[api.Pool](ctx, c, http.MethodPut, "/api/v1/pools/"+esc(name), nil, api.PoolSet{Slots: &slots, Description: description})
}

// DeletePool deletes a pool; tasks that name it wait until it exists
// again.
func (c *Client) DeletePool(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/pools/"+esc(name), nil, nil, nil)
}

// ListSecrets returns the secrets' names and times. No response of the
// API ever carries a secret's value.
func (c *Client) ListSecrets(ctx context.Context) ([]api.Secret, error) {
	return list[api.Secret](ctx, c, "/api/v1/secrets")
}

// SetSecret sets a secret's value; the server encrypts it. A server
// without a secret key refuses with a message that says how to give it
// one.
func (c *Client) SetSecret(ctx context.Context, name, value string) error {
	return c.do(ctx, http.MethodPut, "/api/v1/secrets/"+esc(name), nil, api.SecretSet{Value: value}, nil)
}

// DeleteSecret deletes a secret.
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/secrets/"+esc(name), nil, nil, nil)
}

// ListVariables returns every variable with its value, by name.
func (c *Client) ListVariables(ctx context.Context) ([]api.Variable, error) {
	return list[api.Variable](ctx, c, "/api/v1/variables")
}

// GetVariable returns one variable.
func (c *Client) GetVariable(ctx context.Context, name string) (*api.Variable, error) {
	return call[api.Variable](ctx, c, http.MethodGet, "/api/v1/variables/"+esc(name), nil, nil)
}

// SetVariable sets a variable, read in expressions as ${{ vars.<name> }}.
// The value may be empty.
func (c *Client) SetVariable(ctx context.Context, name, value string) (*api.Variable, error) {
	return call[api.Variable](ctx, c, http.MethodPut, "/api/v1/variables/"+esc(name), nil, api.VariableSet{Value: &value})
}

// DeleteVariable deletes a variable.
func (c *Client) DeleteVariable(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/variables/"+esc(name), nil, nil, nil)
}

// ListWorkers returns the workers that announced themselves, by id.
func (c *Client) ListWorkers(ctx context.Context) ([]api.Worker, error) {
	return list[api.Worker](ctx, c, "/api/v1/workers")
}

// Cleanup prunes finished runs past their retention now, or with
// req.DryRun says what would go. A cleanup returns after about 20 s with
// More set when runs remain: call it again to go on.
func (c *Client) Cleanup(ctx context.Context, req api.CleanupRequest) (*api.Cleanup, error) {
	return call[api.Cleanup](ctx, c, http.MethodPost, "/api/v1/maintenance/cleanup", nil, req)
}

// EmitAsset records an event of an asset with extra key=values, and
// returns it with the runs it started.
// A key makes the event once: sent again, the first one is returned.
func (c *Client) EmitAsset(ctx context.Context, name string, extra map[string]string, key string) (*api.AssetEventResult, error) {
	return call[api.AssetEventResult](ctx, c, http.MethodPost, "/api/v1/assets/"+esc(name)+"/events", nil, api.AssetEventRequest{Extra: extra, Key: key})
}

// AssetEvents returns an asset's newest events, newest first.
func (c *Client) AssetEvents(ctx context.Context, name string) ([]api.AssetEvent, error) {
	return list[api.AssetEvent](ctx, c, "/api/v1/assets/"+esc(name)+"/events")
}

// Assets returns every known asset, ordered by name, reading the API's
// pages one after the other.
func (c *Client) Assets(ctx context.Context) ([]api.Asset, error) {
	out := []api.Asset{}
	q := url.Values{"limit": {"500"}}
	for {
		page, err := call[api.AssetList](ctx, c, http.MethodGet, "/api/v1/assets", q, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Assets...)
		if page.NextAfter == "" {
			return out, nil
		}
		q.Set("after", page.NextAfter)
	}
}

// Asset returns one asset with its producers, consumers and recent events.
func (c *Client) Asset(ctx context.Context, name string) (*api.AssetDetail, error) {
	return call[api.AssetDetail](ctx, c, http.MethodGet, "/api/v1/assets/"+esc(name), nil, nil)
}
