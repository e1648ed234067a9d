package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/web"
)

// MaxBody bounds every request body: a pipeline upload (control.MaxUpload)
// with room for its form.
const MaxBody = control.MaxUpload + 64<<10

// Handler returns the HTTP endpoints of a process: /healthz and /readyz,
// and with a (the web role) the REST API and the UI.
// box seals secrets set through the API and UI; nil when this process has
// no key.
func Handler(st store.Store, a *auth.Auth, box *secret.Box, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		p, ok := st.(store.Pinger)
		if ok {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if a != nil {
		ctl := control.New(st, nil, log).WithSecrets(box)
		apiHandler := api.New(api.Config{Control: ctl, Auth: a, Logger: log}).Handler()
		mux.Handle("/api/", apiHandler)
		mux.Handle("/", web.New(web.Config{Control: ctl, Auth: a, Logger: log}).Handler())
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
	return http.MaxBytesHandler(h, MaxBody)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
