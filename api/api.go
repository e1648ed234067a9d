package api

import (
	"log/slog"
	"net/http"
	"path"
	"sync"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// Config configures the API.
type Config struct {
	// Control performs every operation; its store answers every read.
	Control *control.Control
	// Auth authenticates requests. Nil means password mode over the
	// control's store.
	Auth *auth.Auth
	// Clock tells durations of running runs; default the Control's.
	Clock sluice.Clock
	// Logger records internal errors, which responses never show, and
	// one line per request; default slog.Default().
	Logger *slog.Logger
	// Secrets seals the values of secrets set through the API. When nil,
	// the control's own key (control.Control.WithSecrets) is used; without
	// either, setting a secret is refused with a message that names
	// $SLUICE_SECRET_KEY.
	Secrets *secret.Box
}

// API serves the REST API. Create it with New.
type API struct {
	ctl      *control.Control
	st       store.Store
	auth     *auth.Auth
	clock    sluice.Clock
	log      *slog.Logger
	versions *versionCache

	openapiOnce sync.Once
	openapi     []byte
}

// New returns an API for cfg.
func New(cfg Config) *API {
	if cfg.Clock == nil {
		cfg.Clock = cfg.Control.Clock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Auth == nil {
		cfg.Auth = auth.New(auth.Config{Store: cfg.Control.Store(), Logger: cfg.Logger})
	}
	if cfg.Secrets != nil {
		cfg.Control.WithSecrets(cfg.Secrets)
	}
	st := cfg.Control.Store()
	return &API{ctl: cfg.Control, st: st, auth: cfg.Auth, clock: cfg.Clock, log: cfg.Logger, versions: newVersionCache(st)}
}

// Handler serves every route under /api/v1/. Requests pass, in order:
// the request id (see RequestIDHeader) and the access log; common
// headers; authentication and the CSRF and cross-origin checks of
// auth.Middleware; routing, where an unknown path is a JSON 404 and a
// known path with another method a JSON 405; the role the route needs; and
// the route's handler.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	known := map[string]bool{}
	for _, rt := range table() {
		pattern := rt.Method + " " + rt.Path
		known[pattern] = true
		mux.Handle(pattern, a.endpoint(rt))
	}
	dispatch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoOf(r.Context()).principal = by(r)
		// A path that is not clean ("//", "..") would be redirected by
		// the mux with an HTML body; it names no route.
		if _, pattern := mux.Handler(r); !known[pattern] || path.Clean(r.URL.EscapedPath()) != r.URL.EscapedPath() {
			a.noRoute(w, r, mux)
			return
		}
		mux.ServeHTTP(w, r)
	})
	authed := a.auth.Middleware(a.writeError)(dispatch)
	return a.withRequest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost && r.URL.Path == loginPath {
			// A login starts a new session and needs none: without the
			// old session's cookie, the middleware asks for no CSRF token
			// (it still refuses cross-origin requests, so another site
			// cannot log a browser in to an account of its choosing).
			r.Header.Del("Cookie")
		}
		authed.ServeHTTP(w, r)
	}))
}

// endpoint checks that the request may do the route's action and runs its
// handler.
func (a *API) endpoint(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Action != "" {
			if err := auth.Allow(r.Context(), rt.Action); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		if err := rt.handle(a, w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// noRoute answers a request no route matched: 405 when the path exists
// with other methods, 404 otherwise.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	h, _ := mux.Handler(r)
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		a.writeError(w, r, sluice.Errorf(codeMethodNotAllowed, "%s is not allowed on %s: use %s", r.Method, r.URL.Path, rec.header.Get("Allow")))
		return
	}
	a.writeError(w, r, sluice.Errorf(sluice.ENOTFOUND, "no such API route: %s %s (see /api/v1/openapi.json)", r.Method, r.URL.Path))
}

// statusRecorder keeps the status and headers a handler writes and drops
// its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}

// by names who makes a request, for the operation logs.
func by(r *http.Request) string {
	p := auth.FromContext(r.Context())
	if p == nil {
		return "anonymous"
	}
	return p.Via + " " + p.Name
}
