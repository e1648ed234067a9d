// Package api is the REST API of sluice, JSON under /api/v1, described by
// the OpenAPI document it serves at /api/v1/openapi.json.
package api

import (
	"log/slog"
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
)

// Config configures the API.
type Config struct {
	Control *control.Control
	Auth    *auth.Auth
	Clock   sluice.Clock
	Logger  *slog.Logger
}

// API serves the REST API.
type API struct {
	cfg Config
}

// New returns an API for cfg.
func New(cfg Config) *API { return &API{cfg: cfg} }

// Handler serves every route under /api/v1/.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	return mux
}
