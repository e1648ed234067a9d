// Package server runs the roles of one sluice process — pipeline loading,
// scheduling, workers and the HTTP endpoints — against one store, and
// stops them in the order that loses nothing: stop taking work, drain,
// hand back what is left.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/worker"
)

// Config configures a sluice process. Zero values take the documented
// defaults of the `sluice server` flags.
type Config struct {
	// Home is the data directory of the SQLite store.
	Home string
	// DB selects the store: empty for SQLite in Home.
	DB string
	// Pipelines is the folder of pipeline files to load; empty for none.
	Pipelines string
	// Rescan is how often the pipelines folder is checked for changes.
	Rescan time.Duration
	// Listen is the HTTP address; empty for no HTTP server.
	Listen string
	// Roles to run.
	Scheduler, Worker bool
	Concurrency       int
	Lease             time.Duration
	Poll              time.Duration
	DrainTimeout      time.Duration
	KillGrace         time.Duration
	Sync              string
	Holder            string
	Logger            *slog.Logger
	// Listening, if set, is called with the HTTP server's address once it
	// accepts connections.
	Listening func(addr string)
}

// OpenStore opens the store cfg names.
func OpenStore(ctx context.Context, cfg *Config) (store.Store, error) {
	switch {
	case cfg.DB == "" || cfg.DB == "sqlite":
		return sqlite.Open(ctx, cfg.Home, sqlite.Options{Sync: cfg.Sync, Holder: cfg.Holder})
	case strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://"):
		return nil, errors.New("PostgreSQL support is not built yet: use the default SQLite store")
	default:
		return nil, fmt.Errorf("--db %q: want empty (SQLite in --home) or a postgres:// URL", cfg.DB)
	}
}

// Run runs the configured roles until ctx ends, then drains. A value on
// kill ends the drain at once.
func Run(ctx context.Context, cfg Config, kill <-chan struct{}) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	st, err := OpenStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	_, single := st.(*sqlite.Store)

	var (
		wg      sync.WaitGroup
		bgCtx   context.Context
		bgStop  context.CancelFunc
		errOnce sync.Once
		runErr  error
	)
	bgCtx, bgStop = context.WithCancel(context.Background())
	defer bgStop()
	fail := func(err error) {
		errOnce.Do(func() { runErr = err })
	}

	if cfg.Pipelines != "" {
		loader := catalog.NewLoader(st, cfg.Pipelines, log)
		if _, err := os.Stat(cfg.Pipelines); err != nil {
			log.Warn("pipelines folder not found; create it or pass --pipelines", "dir", cfg.Pipelines)
		} else if _, err := loader.Sync(ctx); err != nil {
			return fmt.Errorf("load pipelines: %w", err)
		}
		rescan := cfg.Rescan
		if rescan <= 0 {
			rescan = time.Second
		}
		wg.Add(1)
		go func() { defer wg.Done(); loader.Run(bgCtx, rescan) }()
	}
	if cfg.Scheduler {
		sch := scheduler.New(scheduler.Config{Store: st, Logger: log, ReapOrphans: single})
		wg.Add(1)
		go func() { defer wg.Done(); _ = sch.Run(bgCtx) }()
	}
	var w *worker.Worker
	workerDone := make(chan struct{})
	if cfg.Worker {
		w, err = worker.New(worker.Config{
			Store: st, Concurrency: cfg.Concurrency, Lease: cfg.Lease, Poll: cfg.Poll,
			DrainTimeout: cfg.DrainTimeout, KillGrace: cfg.KillGrace, Logger: log,
		})
		if err != nil {
			return err
		}
		go func() { defer close(workerDone); _ = w.Run(ctx) }()
		go func() {
			select {
			case <-kill:
				w.Kill()
			case <-workerDone:
			}
		}()
	} else {
		close(workerDone)
	}
	var srv *http.Server
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			bgStop()
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
		srv = &http.Server{Handler: Handler(st), ReadHeaderTimeout: 10 * time.Second}
		addr := ln.Addr().String()
		log.Info("listening", "url", "http://"+addr)
		if cfg.Listening != nil {
			cfg.Listening(addr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(err)
			}
		}()
	}

	<-ctx.Done()
	log.Info("stopping: no new work is claimed; running tasks may finish", "drain_timeout", cfg.DrainTimeout.String())
	<-workerDone
	bgStop()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	log.Info("stopped")
	return runErr
}
