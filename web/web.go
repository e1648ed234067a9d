// Package web is the web UI of sluice: server-rendered pages with htmx and
// server-sent events for live updates, every asset embedded in the binary.
package web

import (
	"log/slog"
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
)

// Config configures the UI.
type Config struct {
	Control *control.Control
	Auth    *auth.Auth
	Clock   sluice.Clock
	Logger  *slog.Logger
}

// Web serves the UI.
type Web struct {
	cfg Config
}

// New returns a Web for cfg.
func New(cfg Config) *Web { return &Web{cfg: cfg} }

// Handler serves the UI's pages and assets at the root.
func (w *Web) Handler() http.Handler {
	mux := http.NewServeMux()
	return mux
}
