// Package httpstream lets long-lived HTTP responses (server-sent events)
// end when their server shuts down. http.Server.Shutdown waits for every
// connection to go idle, which a stream never does, so without this a
// process with one open log stream takes the whole shutdown timeout to stop.
package httpstream

import (
	"context"
	"net"
	"net/http"
	"sync"
)

type stoppingKey struct{}

// Watch makes the streams srv serves end when srv starts shutting down.
// Call it before srv serves: it sets srv.BaseContext (wrapping any set
// before) so that every request, whenever it starts, carries a channel
// that Shutdown closes.
func Watch(srv *http.Server) {
	stopping := make(chan struct{})
	var once sync.Once // the hooks run on every call of Shutdown
	srv.RegisterOnShutdown(func() { once.Do(func() { close(stopping) }) })
	base := srv.BaseContext
	srv.BaseContext = func(l net.Listener) context.Context {
		ctx := context.Background()
		if base != nil {
			ctx = base(l)
		}
		return context.WithValue(ctx, stoppingKey{}, (<-chan struct{})(stopping))
	}
}

// Stopping returns a channel closed when the server of r starts shutting
// down; nil (never closed) when r's server is not watched.
func Stopping(r *http.Request) <-chan struct{} {
	ch, _ := r.Context().Value(stoppingKey{}).(<-chan struct{})
	return ch
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
