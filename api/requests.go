package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/sluice-dev/sluice/control"
)

// RequestIDHeader carries a request's id: the client's own when it sends
// a sane one, else a new random one. The response echoes it, and every log
// line the server writes about the request carries it as request_id, so a
// person with an id from a response finds the request in the log.
const RequestIDHeader = "X-Request-Id"

// saneRequestID is what an incoming request id may look like: a token a
// log can hold without quoting, as proxies and tracing tools make them.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}$`)

// requestID returns the id of a request: the one it sent if sane, else a
// new one.
func requestID(sent string) string {
	if saneRequestID.MatchString(sent) {
		return sent
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestInfo is what the access log learns about a request while it is
// served.
type requestInfo struct {
	principal string
}

type requestInfoKey struct{}

func infoOf(ctx context.Context) *requestInfo {
	if i, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// logger returns the logger of a request, which names it.
func (a *API) logger(r *http.Request) *slog.Logger { return control.Logger(r.Context(), a.log) }

// withRequest serves next with the request's id set: in the response's
// header, and in a logger in the request's context that handlers, errors
// and the control's operations log with. It writes one access log line per
// request, and turns a panic into a logged 500.
func (a *API) withRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get(RequestIDHeader))
		w.Header().Set(RequestIDHeader, id)
		log := a.log.With("request_id", id)
		info := &requestInfo{principal: "anonymous"}
		ctx := context.WithValue(control.WithLogger(r.Context(), log), requestInfoKey{}, info)
		r = r.WithContext(ctx)
		rec := &accessWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
				if rec.status == 0 {
					a.writeError(rec, r, err)
				} else {
					log.Error("api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			log.Info("api request", "method", r.Method, "path", r.URL.Path, "status", status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "principal", info.principal)
		}()
		next.ServeHTTP(rec, r)
	})
}

// accessWriter records the status of a response. It unwraps, so that
// http.ResponseController finds the Flusher of a followed log.
type accessWriter struct {
	http.ResponseWriter
	status int
}

func (w *accessWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *accessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
