package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/web"
)

// MaxBody bounds every request body: a pipeline upload (control.MaxUpload)
// with room for its form.
const MaxBody = control.MaxUpload + 64<<10

// Handler returns the HTTP endpoints of a process: /healthz and /readyz,
// and with a (the web role) the REST API and the UI. box seals secrets set
// through the API and UI; nil when this process has no key.
func Handler(st store.Store, a *auth.Auth, box *secret.Box, log *slog.Logger) http.Handler {
	return NewHandler(HandlerConfig{Store: st, Auth: a, Secrets: box, Logger: log})
}

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	Store store.Store
	// Auth, when set, serves the API and the UI (the web role).
	Auth *auth.Auth
	// Secrets seals secrets set through the API and the UI; nil when the
	// process has no key.
	Secrets *secret.Box
	// Metrics, when set, is served at /metrics and measures requests.
	Metrics *metrics.Metrics
	// Writes, when set, makes /readyz answer 503 while this process's
	// database writes fail: for the roles whose work is writing (the
	// scheduler and workers). A web-only process leaves it nil and is
	// ready while the database answers.
	Writes *Writes
	Logger *slog.Logger
}

// NewHandler returns the HTTP endpoints of a process: /healthz, /readyz
// and /metrics on every role, and the REST API and the UI on the web role.
func NewHandler(cfg HandlerConfig) http.Handler {
	st, a, log := cfg.Store, cfg.Auth, cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	routes := http.NewServeMux() // patterns only, to label metrics
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		routes.Handle(pattern, h)
	}
	handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	handle("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx, st); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": err.Error()})
			return
		}
		if cfg.Writes != nil {
			if err := cfg.Writes.Err(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "writes": err.Error(), "hint": writesHint})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}))
	if cfg.Metrics != nil {
		var mh http.Handler = cfg.Metrics.Handler()
		if a != nil {
			// With --auth none or --allowed-hosts, a page of another site
			// must not read the metrics (pipeline names, counts) through
			// a name it points at this machine.
			inner := mh
			mh = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := a.CheckHost(r); err != nil {
					http.Error(w, sluice.ErrorMessage(err), http.StatusForbidden)
					return
				}
				inner.ServeHTTP(w, r)
			})
		}
		handle("GET /metrics", mh)
	}
	if a != nil {
		ctl := control.New(st, nil, log).WithSecrets(cfg.Secrets)
		apis := api.New(api.Config{Control: ctl, Auth: a, Logger: log})
		apiHandler := apis.Handler()
		mux.Handle("/api/", apiHandler)
		// Webhook deliveries prove themselves by their signature, with no
		// session or token: they do not go through the API's login.
		hooks := apis.Hooks()
		mux.Handle("/hooks/", hooks)
		routes.Handle(api.HookPattern, hooks)
		routes.Handle(api.NamedHookPattern, hooks)
		routes.Handle("/hooks/", hooks)
		for _, rt := range api.Routes() {
			routes.Handle(rt.Method+" "+rt.Path, apiHandler)
		}
		routes.Handle("/api/", apiHandler)
		ui := web.New(web.Config{Control: ctl, Auth: a, Logger: log}).Handler()
		mux.Handle("/", ui)
		routes.Handle("GET /static/", ui)
		routes.Handle("/", ui)
	}
	var h http.Handler = mux
	if a != nil {
		apiHandler, _ := mux.Handler(&http.Request{Method: "GET", URL: &url.URL{Path: "/api/"}})
		// Every /api/ path goes to the API as it is: the mux would redirect
		// an unclean one (/api/v1//runs) with an HTML page.
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				apiHandler.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	return http.MaxBytesHandler(cfg.Metrics.Middleware(routes, h), MaxBody)
}

// ready reports whether the process can serve: the database answers and
// has every migration this binary needs.
func ready(ctx context.Context, st store.Store) error {
	if p, ok := st.(store.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return err
		}
	}
	if sc, ok := st.(store.SchemaChecker); ok {
		if err := sc.SchemaCheck(ctx); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
