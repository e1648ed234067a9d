package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/worker"
)

var quiet = slog.New(slog.DiscardHandler)

// writable is a store whose writes a test can break for real and mend.
type writable struct {
	store.Store
	// breakWrites makes writes fail; mendWrites undoes it.
	breakWrites, mendWrites func(t *testing.T)
	// reason is in the error of a write that fails.
	reason string
}

// fullSQLite is a SQLite store whose database can be made full: PRAGMA
// max_page_count at its current size on the connection the store's write
// transactions run on gives a genuine "database or disk is full" to every
// write that needs another page.
func fullSQLite(t *testing.T) *writable {
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pragma := func(t *testing.T, q string) {
		t.Helper()
		var n int64
		if err := st.OnWriteConn(context.Background(), func(c *sql.Conn) error {
			return c.QueryRowContext(context.Background(), q).Scan(&n)
		}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &writable{
		Store: st,
		breakWrites: func(t *testing.T) {
			var pages int64
			if err := st.Write().QueryRowContext(context.Background(), "PRAGMA page_count").Scan(&pages); err != nil {
				t.Fatal(err)
			}
			pragma(t, "PRAGMA max_page_count = "+strconv.FormatInt(pages, 10))
		},
		mendWrites: func(t *testing.T) { pragma(t, "PRAGMA max_page_count = 1073741823") },
		reason:     "database or disk is full",
	}
}

// readOnlyPostgres is a PostgreSQL store whose one connection can be made
// read-only (default_transaction_read_only, as on a standby or a database
// an operator set read-only): reads work, every write fails.
func readOnlyPostgres(t *testing.T) *writable {
	st, err := postgres.Open(context.Background(), pgtest.Schema(t), postgres.Options{MaxConns: 1, NoListen: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set := func(t *testing.T, on string) {
		t.Helper()
		if _, err := st.Write().ExecContext(context.Background(), "SET default_transaction_read_only = "+on); err != nil {
			t.Fatal(err)
		}
	}
	return &writable{
		Store:       st,
		breakWrites: func(t *testing.T) { set(t, "on") },
		mendWrites:  func(t *testing.T) { set(t, "off") },
		reason:      "read-only transaction",
	}
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, url string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]string
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/readyz body %q: %v", raw, err)
	}
	return resp.StatusCode, body
}

// waitReady polls /readyz until it answers status, failing the test after
// a minute; it returns the body.
func waitReady(t *testing.T, url string, status int, what string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := readyz(t, url)
		if code == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /readyz still answers %d %v", what, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzFollowsWrites runs a worker whose task logs steadily, breaks
// the database's writes for real while it runs, and checks that /readyz
// answers 503 with the database's own reason, then 200 again by itself
// once writes work, and that the run still ends well.
func TestReadyzFollowsWrites(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *writable{"sqlite": fullSQLite, "postgres": readOnlyPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			writes := server.NewWrites(server.WritesConfig{Settle: time.Second, ProbeEvery: 100 * time.Millisecond})
			st.Store.(store.Observable).SetObserver(writes)
			srv := httptest.NewServer(server.NewHandler(server.HandlerConfig{Store: st.Store, Writes: writes, Logger: quiet}))
			t.Cleanup(srv.Close)
			waitReady(t, srv.URL, 200, "at start")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go writes.Run(ctx, st.Store)
			w, err := worker.New(worker.Config{Store: st.Store, Concurrency: 1, Poll: 50 * time.Millisecond, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = w.Run(ctx) }()
			defer func() { cancel(); <-done }()

			dir := t.TempDir()
			ctl := control.New(st.Store, nil, quiet)
			src := "id: chatty\ntasks:\n  talk:\n    run: |\n      touch " + filepath.Join(dir, "started") + "\n" +
				"      while [ ! -e " + filepath.Join(dir, "mended") + " ]; do printf 'line %0300d\\n' 1; sleep 0.02; done\n"
			if _, err := ctl.Upload(ctx, "chatty.yaml", []byte(src), "test"); err != nil {
				t.Fatal(err)
			}
			run, err := ctl.Trigger(ctx, "chatty", nil, "test")
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the task to start", func() bool { _, err := os.Stat(filepath.Join(dir, "started")); return err == nil })

			st.breakWrites(t)
			body := waitReady(t, srv.URL, 503, "while writes fail")
			if body["status"] != "unavailable" || !strings.Contains(body["writes"], st.reason) || body["hint"] == "" {
				t.Fatalf("/readyz while writes fail = %v, want the reason %q and a hint", body, st.reason)
			}
			if _, err := http.Get(srv.URL + "/healthz"); err != nil {
				t.Fatal(err)
			}

			st.mendWrites(t)
			if err := os.WriteFile(filepath.Join(dir, "mended"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			waitReady(t, srv.URL, 200, "after writes work again")
			waitFor(t, "the run to succeed", func() bool {
				r, err := st.RunGet(ctx, run.ID)
				return err == nil && r.State == sluice.RunSuccess
			})
		})
	}
}

// TestReadyzIdleProcessProbes checks that a process doing nothing notices
// that its database stopped taking writes, through its probe, and that it
// recovers by itself.
func TestReadyzIdleProcessProbes(t *testing.T) {
	t.Parallel()
	st := readOnlyPostgres(t)
	writes := server.NewWrites(server.WritesConfig{ProbeEvery: 50 * time.Millisecond})
	st.Store.(store.Observable).SetObserver(writes)
	srv := httptest.NewServer(server.NewHandler(server.HandlerConfig{Store: st.Store, Writes: writes, Logger: quiet}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go writes.Run(ctx, st.Store)
	waitReady(t, srv.URL, 200, "at start")
	st.breakWrites(t)
	if body := waitReady(t, srv.URL, 503, "read-only"); !strings.Contains(body["writes"], st.reason) {
		t.Fatalf("/readyz = %v, want the reason %q", body, st.reason)
	}
	st.mendWrites(t)
	waitReady(t, srv.URL, 200, "writable again")
}

// TestReadyzWebOnly checks that a process without Writes (the web role)
// is ready while its database answers, whatever its writes do: it serves
// reads, and taking it out of a load balancer would hide the UI that
// shows the problem.
func TestReadyzWebOnly(t *testing.T) {
	t.Parallel()
	st := fullSQLite(t)
	srv := httptest.NewServer(server.NewHandler(server.HandlerConfig{Store: st.Store, Logger: quiet}))
	t.Cleanup(srv.Close)
	st.breakWrites(t)
	if code, body := readyz(t, srv.URL); code != 200 {
		t.Fatalf("web only, writes failing: /readyz = %d %v", code, body)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
