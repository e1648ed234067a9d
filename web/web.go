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
		versions: newVersionCache(256),
		version:  sluice.Version(),
	}
	w.tmpl = mustParseTemplates()
	return w
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
	mux.Handle("POST /logout", w.act(store.RoleViewer, w.logout))

	viewer, operator, admin := store.RoleViewer, store.RoleOperator, store.RoleAdmin

	mux.Handle("GET /{$}", w.page(viewer, w.pipelinesPage))
	mux.Handle("GET /live/pipelines", w.page(viewer, w.pipelinesLive))
	mux.Handle("POST /pipelines/{id}/pause", w.act(operator, w.pausePost))

	mux.Handle("GET /pipelines/{id}", w.page(viewer, w.gridPage))
	mux.Handle("GET /pipelines/{id}/live/head", w.page(viewer, w.pipelineHeadLive))
	mux.Handle("GET /pipelines/{id}/live/grid", w.page(viewer, w.gridLive))
	mux.Handle("GET /pipelines/{id}/graph", w.page(viewer, w.graphPage))
	mux.Handle("GET /pipelines/{id}/live/graph", w.page(viewer, w.graphLive))
	mux.Handle("GET /pipelines/{id}/code", w.page(viewer, w.codePage))
	mux.Handle("GET /pipelines/{id}/runs", w.page(viewer, w.runsPage))
	mux.Handle("GET /pipelines/{id}/live/runs", w.page(viewer, w.runsLive))
	mux.Handle("GET /pipelines/{id}/trigger", w.page(operator, w.triggerPage))
	mux.Handle("POST /pipelines/{id}/trigger", w.act(operator, w.triggerPost))
	mux.Handle("GET /pipelines/{id}/backfills", w.page(viewer, w.backfillsPage))
	mux.Handle("GET /pipelines/{id}/live/backfills", w.page(viewer, w.backfillsLive))
	mux.Handle("POST /pipelines/{id}/backfills", w.act(operator, w.backfillPost))
	mux.Handle("POST /backfills/{id}/cancel", w.act(operator, w.backfillCancel))
	mux.Handle("GET /pipelines/{id}/delete", w.page(admin, w.deletePage))
	mux.Handle("POST /pipelines/{id}/delete", w.act(admin, w.deletePost))

	mux.Handle("GET /runs/{id}", w.page(viewer, w.runPage))
	mux.Handle("GET /runs/{id}/live", w.page(viewer, w.runLive))
	mux.Handle("POST /runs/{id}/cancel", w.act(operator, w.cancelPost))
	mux.Handle("POST /runs/{id}/retry", w.act(operator, w.retryPost))
	mux.Handle("POST /runs/{id}/tasks/{task}/clear", w.act(operator, w.clearPost))
	mux.Handle("POST /runs/{id}/tasks/{task}/mark", w.act(operator, w.markPost))
	mux.Handle("GET /runs/{id}/tasks/{task}", w.page(viewer, w.logPage))
	mux.Handle("GET /runs/{id}/tasks/{task}/live", w.page(viewer, w.logLive))
	mux.Handle("GET /runs/{id}/tasks/{task}/log.txt", w.page(viewer, w.logText))

	mux.Handle("GET /pools", w.page(viewer, w.poolsPage))
	mux.Handle("GET /live/pools", w.page(viewer, w.poolsLive))
	mux.Handle("POST /pools", w.act(operator, w.poolSet))
	mux.Handle("POST /pools/{name}/delete", w.act(operator, w.poolDelete))

	mux.Handle("GET /workers", w.page(viewer, w.workersPage))
	mux.Handle("GET /live/workers", w.page(viewer, w.workersLive))

	// Variables may hold what viewers should not read; secrets show only
	// their names, and only admins set them.
	mux.Handle("GET /variables", w.page(operator, w.variablesPage))
	mux.Handle("GET /live/variables", w.page(operator, w.variablesLive))
	mux.Handle("POST /variables", w.act(operator, w.variableSet))
	mux.Handle("POST /variables/{name}/delete", w.act(operator, w.variableDelete))
	mux.Handle("GET /secrets", w.page(operator, w.secretsPage))
	mux.Handle("GET /live/secrets", w.page(operator, w.secretsLive))
	mux.Handle("POST /secrets", w.act(admin, w.secretSet))
	mux.Handle("POST /secrets/{name}/delete", w.act(admin, w.secretDelete))

	mux.Handle("GET /capacity", w.page(viewer, w.capacityPage))

	mux.Handle("GET /upload", w.page(admin, w.uploadPage))
	mux.Handle("POST /upload", w.act(admin, w.uploadPost))

	mux.Handle("GET /admin", http.RedirectHandler("/admin/users", http.StatusSeeOther))
	mux.Handle("GET /admin/users", w.page(admin, w.usersPage))
	mux.Handle("POST /admin/users", w.act(admin, w.userCreate))
	mux.Handle("POST /admin/users/{name}/role", w.act(admin, w.userRole))
	mux.Handle("POST /admin/users/{name}/disabled", w.act(admin, w.userDisabled))
	mux.Handle("POST /admin/users/{name}/password", w.act(admin, w.userPassword))
	mux.Handle("POST /admin/users/{name}/delete", w.act(admin, w.userDelete))
	mux.Handle("GET /admin/tokens", w.page(admin, w.tokensPage))
	mux.Handle("POST /admin/tokens", w.act(admin, w.tokenCreate))
	mux.Handle("POST /admin/tokens/{id}/revoke", w.act(admin, w.tokenRevoke))

	mux.Handle("GET /events/pipelines", w.stream(w.pipelinesEvents))
	mux.Handle("GET /events/pipelines/{id}", w.stream(w.pipelineEvents))
	mux.Handle("GET /events/runs/{id}", w.stream(w.runEvents))
	mux.Handle("GET /events/logs/{run}/{task}/{attempt}", w.stream(w.logEvents))
	mux.Handle("GET /events/pools", w.stream(w.poolsEvents))
	mux.Handle("GET /events/workers", w.stream(w.workersEvents))
	mux.Handle("GET /events/backfills/{id}", w.stream(w.backfillEvents))

	mux.Handle("/", w.page(viewer, func(rw http.ResponseWriter, r *http.Request) error {
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
