package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice/api"
)

// ListUsers returns every user, by name.
func (c *Client) ListUsers(ctx context.Context) ([]api.User, error) {
	return list[api.User](ctx, c, "/api/v1/users")
}

// CreateUser adds a user.
func (c *Client) CreateUser(ctx context.Context, u api.UserCreate) (*api.User, error) {
	return call[api.User](ctx, c, http.MethodPost, "/api/v1/users", nil, u)
}

// UpdateUser changes the fields of a user that u sets.
func (c *Client) UpdateUser(ctx context.Context, name string, u api.UserUpdate) (*api.User, error) {
	return call[api.User](ctx, c, http.MethodPatch, "/api/v1/users/"+esc(name), nil, u)
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/"+esc(name), nil, nil, nil)
}

// ListTokens returns every API token, newest first, without secrets.
func (c *Client) ListTokens(ctx context.Context) ([]api.Token, error) {
	return list[api.Token](ctx, c, "/api/v1/tokens")
}

// CreateToken makes an API token. Its secret is in the result, and
// nowhere else, ever.
func (c *Client) CreateToken(ctx context.Context, t api.TokenCreate) (*api.NewToken, error) {
	return call[api.NewToken](ctx, c, http.MethodPost, "/api/v1/tokens", nil, t)
}

// DeleteToken revokes an API token.
func (c *Client) DeleteToken(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, nil, nil)
}
