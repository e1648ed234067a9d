// Package httpstream lets long-lived HTTP responses (server-sent events)
// end when their server shuts down. http.Server.Shutdown waits for every
// connection to go idle, which a stream never does, so without this a
// process with one open log stream takes the whole shutdown timeout to stop.
package httpstream

import (
	"context"
	"net/http"
	"sync"
)

var servers sync.Map // *http.Server → chan struct{}

// Stopping returns a channel closed when the server of r starts shutting
// down; nil (never closed) when r was not served by an http.Server.
func Stopping(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || srv == nil {
		return nil
	}
	ch := make(chan struct{})
	got, loaded := servers.LoadOrStore(srv, ch)
	if !loaded {
		// The closed channel stays, so a stream that asks after the
		// shutdown began still sees it. One entry per server ever made.
		srv.RegisterOnShutdown(func() { close(ch) })
	}
	return got.(chan struct{})
}

// Context returns a context of r that also ends when r's server starts
// shutting down. Call cancel when the stream ends.
func Context(r *http.Request) (ctx context.Context, cancel context.CancelFunc) {
	ctx, cancel = context.WithCancel(r.Context())
	stop := Stopping(r)
	if stop == nil {
		return ctx, cancel
	}
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
