// Package web is the web UI of sluice: server-rendered pages with htmx and
// server-sent events for live updates, every asset embedded in the binary.
//
// Pages are html/template documents; every value a user or a pipeline
// file controls reaches the page through the template's escaping, SVG
// included. Live regions of a page re-fetch themselves when an event
// stream under /events/ says that what they show changed; see events.go.
// Every form works as a plain HTML form post and, with htmx, in place.
package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
)

// Config configures the UI.
type Config struct {
	Control *control.Control
	Auth    *auth.Auth
	// Clock tells the time for relative times and running durations;
	// default the Control's, so "in 50m" is counted from the now the next
	// run was planned at.
	Clock  sluice.Clock
	Logger *slog.Logger
}

// Web serves the UI.
type Web struct {
	cfg      Config
	ctl      *control.Control
	st       store.Store
	clock    sluice.Clock
	log      *slog.Logger
	tmpl     *templates
	versions *versionCache
	version  string
}

// New returns a Web for cfg.
func New(cfg Config) *Web {
	if cfg.Clock == nil {
		cfg.Clock = cfg.Control.Clock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Web{
		cfg:      cfg,
		ctl:      cfg.Control,
		st:       cfg.Control.Store(),
		clock:    cfg.Clock,
		log:      cfg.Logger,
		versions: newVersionCache(8192), // above the pipelines a list shows, or each list empties it
		version:  sluice.Version(),
	}
	w.tmpl = mustParseTemplates()
	return w
}

// Route is one page, live fragment or form action of the UI, with the
// action it performs: auth's table of permissions decides who may, as it
// does for the API.
type Route struct {
	Method, Path string
	Action       auth.Action
	// Stream marks an event stream (text/event-stream).
	Stream bool

	page   func(w *Web, rw http.ResponseWriter, r *http.Request) error
	stream func(w *Web, ctx context.Context, s *sseWriter, r *http.Request) error
}

// Routes returns the UI's routes that need a login; the login page and
// the static assets are open to anyone.
func Routes() []Route {
	view := auth.View
	return []Route{
		{Method: "POST", Path: "/logout", Action: view, page: (*Web).logout},
		{Method: "POST", Path: "/prefs/zone", Action: view, page: (*Web).zonePost},
		{Method: "GET", Path: "/browse", Action: view, page: (*Web).browseRunsPage},
		{Method: "GET", Path: "/browse/tasks", Action: view, page: (*Web).browseTasksPage},

		{Method: "GET", Path: "/{$}", Action: view, page: (*Web).pipelinesPage},
		{Method: "GET", Path: "/live/pipelines", Action: view, page: (*Web).pipelinesLive},
		{Method: "POST", Path: "/pipelines/{id}/pause", Action: auth.PausePipelines, page: (*Web).pausePost},

		{Method: "GET", Path: "/pipelines/{id}", Action: view, page: (*Web).gridPage},
		{Method: "GET", Path: "/pipelines/{id}/live/head", Action: view, page: (*Web).pipelineHeadLive},
		{Method: "GET", Path: "/pipelines/{id}/live/grid", Action: view, page: (*Web).gridLive},
		{Method: "GET", Path: "/pipelines/{id}/graph", Action: view, page: (*Web).graphPage},
		{Method: "GET", Path: "/pipelines/{id}/live/graph", Action: view, page: (*Web).graphLive},
		{Method: "GET", Path: "/pipelines/{id}/code", Action: view, page: (*Web).codePage},
		{Method: "GET", Path: "/pipelines/{id}/runs", Action: view, page: (*Web).runsPage},
		{Method: "GET", Path: "/pipelines/{id}/live/runs", Action: view, page: (*Web).runsLive},
		{Method: "GET", Path: "/pipelines/{id}/trigger", Action: auth.TriggerRuns, page: (*Web).triggerPage},
		{Method: "POST", Path: "/pipelines/{id}/trigger", Action: auth.TriggerRuns, page: (*Web).triggerPost},
		{Method: "GET", Path: "/pipelines/{id}/backfills", Action: view, page: (*Web).backfillsPage},
		{Method: "GET", Path: "/pipelines/{id}/live/backfills", Action: view, page: (*Web).backfillsLive},
		{Method: "POST", Path: "/pipelines/{id}/backfills", Action: auth.TriggerRuns, page: (*Web).backfillPost},
		{Method: "POST", Path: "/backfills/{id}/cancel", Action: auth.ChangeRuns, page: (*Web).backfillCancel},
		{Method: "GET", Path: "/pipelines/{id}/delete", Action: auth.DeletePipelines, page: (*Web).deletePage},
		{Method: "POST", Path: "/pipelines/{id}/delete", Action: auth.DeletePipelines, page: (*Web).deletePost},

		{Method: "GET", Path: "/runs/{id}", Action: view, page: (*Web).runPage},
		{Method: "GET", Path: "/runs/{id}/live", Action: view, page: (*Web).runLive},
		{Method: "POST", Path: "/runs/{id}/cancel", Action: auth.ChangeRuns, page: (*Web).cancelPost},
		{Method: "POST", Path: "/runs/{id}/retry", Action: auth.ChangeRuns, page: (*Web).retryPost},
		{Method: "GET", Path: "/runs/{id}/clear", Action: auth.ChangeRuns, page: (*Web).clearPage},
		{Method: "POST", Path: "/runs/{id}/clear", Action: auth.ChangeRuns, page: (*Web).clearSetPost},
		{Method: "GET", Path: "/runs/{id}/mark", Action: auth.ChangeRuns, page: (*Web).markPage},
		{Method: "POST", Path: "/runs/{id}/mark", Action: auth.ChangeRuns, page: (*Web).markSetPost},
		{Method: "POST", Path: "/runs/{id}/tasks/{task}/clear", Action: auth.ChangeRuns, page: (*Web).clearPost},
		{Method: "POST", Path: "/runs/{id}/tasks/{task}/mark", Action: auth.ChangeRuns, page: (*Web).markPost},
		{Method: "GET", Path: "/runs/{id}/tasks/{task}", Action: view, page: (*Web).logPage},
		{Method: "GET", Path: "/runs/{id}/tasks/{task}/live", Action: view, page: (*Web).logLive},
		{Method: "GET", Path: "/runs/{id}/tasks/{task}/log.txt", Action: view, page: (*Web).logText},

		{Method: "GET", Path: "/pools", Action: view, page: (*Web).poolsPage},
		{Method: "GET", Path: "/live/pools", Action: view, page: (*Web).poolsLive},
		{Method: "POST", Path: "/pools", Action: auth.EditPools, page: (*Web).poolSet},
		{Method: "POST", Path: "/pools/{name}/delete", Action: auth.EditPools, page: (*Web).poolDelete},

		{Method: "GET", Path: "/workers", Action: view, page: (*Web).workersPage},
		{Method: "GET", Path: "/live/workers", Action: view, page: (*Web).workersLive},

		{Method: "GET", Path: "/variables", Action: auth.ViewVariables, page: (*Web).variablesPage},
		{Method: "GET", Path: "/live/variables", Action: auth.ViewVariables, page: (*Web).variablesLive},
		{Method: "POST", Path: "/variables", Action: auth.EditVariables, page: (*Web).variableSet},
		{Method: "POST", Path: "/variables/{name}/delete", Action: auth.EditVariables, page: (*Web).variableDelete},
		{Method: "GET", Path: "/secrets", Action: auth.ViewSecrets, page: (*Web).secretsPage},
		{Method: "GET", Path: "/live/secrets", Action: auth.ViewSecrets, page: (*Web).secretsLive},
		{Method: "POST", Path: "/secrets", Action: auth.EditSecrets, page: (*Web).secretSet},
		{Method: "POST", Path: "/secrets/{name}/delete", Action: auth.EditSecrets, page: (*Web).secretDelete},

		{Method: "GET", Path: "/capacity", Action: view, page: (*Web).capacityPage},

		{Method: "GET", Path: "/assets", Action: view, page: (*Web).assetsPage},
		{Method: "GET", Path: "/assets/{name...}", Action: view, page: (*Web).assetPage},

		{Method: "GET", Path: "/upload", Action: auth.UploadPipelines, page: (*Web).uploadPage},
		{Method: "POST", Path: "/upload", Action: auth.UploadPipelines, page: (*Web).uploadPost},

		{Method: "GET", Path: "/admin/users", Action: auth.ManageUsers, page: (*Web).usersPage},
		{Method: "POST", Path: "/admin/users", Action: auth.ManageUsers, page: (*Web).userCreate},
		{Method: "POST", Path: "/admin/users/{name}/role", Action: auth.ManageUsers, page: (*Web).userRole},
		{Method: "POST", Path: "/admin/users/{name}/disabled", Action: auth.ManageUsers, page: (*Web).userDisabled},
		{Method: "POST", Path: "/admin/users/{name}/password", Action: auth.ManageUsers, page: (*Web).userPassword},
		{Method: "POST", Path: "/admin/users/{name}/delete", Action: auth.ManageUsers, page: (*Web).userDelete},
		{Method: "GET", Path: "/admin/tokens", Action: auth.ManageTokens, page: (*Web).tokensPage},
		{Method: "POST", Path: "/admin/tokens", Action: auth.ManageTokens, page: (*Web).tokenCreate},
		{Method: "POST", Path: "/admin/tokens/{id}/revoke", Action: auth.ManageTokens, page: (*Web).tokenRevoke},

		{Method: "GET", Path: "/events/pipelines", Action: view, Stream: true, stream: (*Web).pipelinesEvents},
		{Method: "GET", Path: "/events/pipelines/{id}", Action: view, Stream: true, stream: (*Web).pipelineEvents},
		{Method: "GET", Path: "/events/runs/{id}", Action: view, Stream: true, stream: (*Web).runEvents},
		{Method: "GET", Path: "/events/logs/{run}/{task}/{attempt}", Action: view, Stream: true, stream: (*Web).logEvents},
		{Method: "GET", Path: "/events/pools", Action: view, Stream: true, stream: (*Web).poolsEvents},
		{Method: "GET", Path: "/events/workers", Action: view, Stream: true, stream: (*Web).workersEvents},
		{Method: "GET", Path: "/events/backfills/{id}", Action: view, Stream: true, stream: (*Web).backfillEvents},
	}
}

// Handler serves the UI's pages and assets at the root.
func (w *Web) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /favicon.ico", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, assetURL("favicon.svg"), http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /login", w.loginPage)
	mux.HandleFunc("POST /login", w.loginPost)
	mux.Handle("GET /admin", http.RedirectHandler("/admin/users", http.StatusSeeOther))
	for _, rt := range Routes() {
		pattern := rt.Method + " " + rt.Path
		if rt.Stream {
			f := rt.stream
			mux.Handle(pattern, w.events(rt.Action, func(ctx context.Context, s *sseWriter, r *http.Request) error { return f(w, ctx, s, r) }))
			continue
		}
		f := rt.page
		mux.Handle(pattern, w.page(rt.Action, func(rw http.ResponseWriter, r *http.Request) error { return f(w, rw, r) }))
	}
	mux.Handle("/", w.page(auth.View, func(rw http.ResponseWriter, r *http.Request) error {
		return sluice.Errorf(sluice.ENOTFOUND, "there is no page at %s", r.URL.Path)
	}))
	return securityHeaders(w.cfg.Auth.Middleware(w.onAuthError)(mux))
}

// securityHeaders sets the headers every response of the UI carries: a
// content security policy that allows only the UI's own scripts and styles
// (so markup that escaped escaping still could not run), no framing, no
// MIME sniffing, and no referrer to other sites.
func securityHeaders(next http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(rw, r)
	})
}
