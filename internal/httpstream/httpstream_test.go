package httpstream_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/httpstream"
)

// serve starts a watched server on port 0 with handler h.
func serve(t *testing.T, h http.HandlerFunc) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	httpstream.Watch(srv)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + ln.Addr().String()
}

// shutdown runs srv.Shutdown without a deadline and fails the test if it
// has not returned within a minute: a stream that did not end hangs it.
func shutdown(t *testing.T, srv *http.Server) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Shutdown still waits for an open stream")
	}
}

// stream answers with a first event, then waits for its context.
func stream(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := httpstream.Context(r)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, "data: hello\n\n")
	w.(http.Flusher).Flush()
	<-ctx.Done()
}

// open starts a request and waits for its first byte.
func open(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStreamsEndOnShutdown(t *testing.T) {
	srv, url := serve(t, stream)
	resp := open(t, url)
	shutdown(t, srv)
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
}

// TestStreamStartedDuringShutdown: a request already in its handler when
// Shutdown begins, which only then turns into a stream, ends too.
func TestStreamStartedDuringShutdown(t *testing.T) {
	entered, gate := make(chan struct{}), make(chan struct{})
	srv, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-gate
		stream(w, r)
	})
	go func() {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-entered
	// The handler goes on once Shutdown has begun.
	srv.RegisterOnShutdown(func() { close(gate) })
	shutdown(t, srv)
}

func TestUnwatchedServer(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	if httpstream.Stopping(r) != nil {
		t.Fatal("a request of no watched server has a stopping channel")
	}
}
