package api

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
)

// Webhook deliveries come from other servers (GitHub, CI, a partner), not
// from a logged-in browser, so /hooks/ sits outside /api/v1 and its
// authentication: no session, no token and no CSRF token. The signature
// of the body is the delivery's proof instead, and a page of another site
// cannot forge it. The Host check still applies, as for every path.

// Webhook paths.
const (
	HookPattern      = "POST /hooks/{pipeline}"
	NamedHookPattern = "POST /hooks/{pipeline}/{name}"
)

// MaxHookBody bounds a webhook delivery's body.
const MaxHookBody = 1 << 20

// Idempotency headers, in order of preference: the first one set is the
// delivery's dedup key, unless the webhook names a key: of its own.
var keyHeaders = []string{"Idempotency-Key", "X-GitHub-Delivery"}

// Hooks serves webhook deliveries at HookPattern and NamedHookPattern:
// 201 with the run a new delivery started, 200 with the same run when a
// delivery with the same key comes again, and a JSON error otherwise (401
// for a missing or wrong signature).
func (a *API) Hooks() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(HookPattern, a.deliver)
	mux.HandleFunc(NamedHookPattern, a.deliver)
	return a.withRequest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if err := a.auth.CheckHost(r); err != nil {
			a.hookError(w, r, err)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			if r.Method != http.MethodPost && strings.Count(strings.Trim(r.URL.Path, "/"), "/") <= 2 {
				w.Header().Set("Allow", http.MethodPost)
				a.hookError(w, r, sluice.Errorf(codeMethodNotAllowed, "%s is not allowed on %s: webhooks take POST", r.Method, r.URL.Path))
				return
			}
			a.hookError(w, r, sluice.Errorf(sluice.ENOTFOUND, "no webhook at %s: webhooks are served at /hooks/<pipeline> and /hooks/<pipeline>/<name>", r.URL.Path))
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

func (a *API) deliver(w http.ResponseWriter, r *http.Request) {
	infoOf(r.Context()).principal = "webhook"
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = sluice.Errorf(sluice.EBADREQUEST, "cannot read the body: %v", err)
		}
		a.hookError(w, r, err)
		return
	}
	d := &control.Delivery{
		Pipeline: r.PathValue("pipeline"), Name: r.PathValue("name"), Body: body,
		Signature: r.Header.Get(control.SignatureHeader), Headers: map[string]string{},
	}
	for _, h := range keyHeaders {
		if d.Key = strings.TrimSpace(r.Header.Get(h)); d.Key != "" {
			break
		}
	}
	for name, vs := range r.Header {
		if len(vs) > 0 {
			d.Headers[strings.ToLower(name)] = vs[0]
		}
	}
	run, created, err := a.ctl.Deliver(r.Context(), d)
	if err != nil {
		a.hookError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, a.runOut(run))
}

// hookError writes err like writeError, without the Bearer challenge of a
// 401: a delivery proves itself by its signature, not by a token.
func (a *API) hookError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorBody(err)
	if status == http.StatusInternalServerError {
		a.logger(r).Error("api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, ErrorResponse{Error: body})
}
