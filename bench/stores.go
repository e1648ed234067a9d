package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// openStore opens a fresh store for one benchmark: SQLite in dir, or a new
// schema in the PostgreSQL database of o.DB. It returns the store's URL
// for worker processes (empty for SQLite) and a cleanup.
func openStore(ctx context.Context, o Options, dir string) (store.Store, string, func(), error) {
	if o.DB == "" {
		st, err := sqlite.Open(ctx, dir, sqlite.Options{Sync: o.Sync, Holder: "sluice bench"})
		if err != nil {
			return nil, "", nil, err
		}
		return st, "", func() { st.Close() }, nil
	}
	admin, err := sql.Open("pgx", o.DB)
	if err != nil {
		return nil, "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "sluice_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return nil, "", nil, fmt.Errorf("create benchmark schema: %w", err)
	}
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close()
	}
	u, err := url.Parse(o.DB)
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := postgres.Open(ctx, u.String(), postgres.Options{Logger: quiet})
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	return st, u.String(), func() { st.Close(); drop() }, nil
}

// startWorkerProcs starts o.WorkerProcs `sluice worker` processes on the
// database and waits until each has started its worker.
func startWorkerProcs(ctx context.Context, o Options, dbURL string) (func(), error) {
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range cmds {
			_ = c.Wait()
		}
	}
	ready := make(chan error, o.WorkerProcs)
	for i := 0; i < o.WorkerProcs; i++ {
		c := exec.Command(bin, "worker", "--db", dbURL, "--listen", "", "--log-format", "json",
			"--concurrency", strconv.Itoa(o.Concurrency), "--worker-id", "bench-proc-"+strconv.Itoa(i))
		stderr, err := c.StderrPipe()
		if err != nil {
			stop()
			return nil, err
		}
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
		go func() {
			sc := bufio.NewScanner(stderr)
			signalled := false
			var last string
			for sc.Scan() {
				last = sc.Text()
				if !signalled && strings.Contains(last, `"worker started"`) {
					ready <- nil
					signalled = true
				}
			}
			if !signalled {
				ready <- fmt.Errorf("worker process exited: %s", last)
			}
		}()
	}
	timeout := time.After(60 * time.Second)
	for i := 0; i < o.WorkerProcs; i++ {
		select {
		case err := <-ready:
			if err != nil {
				stop()
				return nil, err
			}
		case <-timeout:
			stop()
			return nil, fmt.Errorf("worker processes did not start")
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
	return stop, nil
}
