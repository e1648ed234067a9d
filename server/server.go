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
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/internal/httpstream"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/versions"
	"github.com/sluice-dev/sluice/worker"
)

// How long a process takes to stop, at most, by default: a role that runs
// tasks lets them finish for DefaultDrainTimeout, then stops each with
// DefaultKillGrace between SIGTERM and SIGKILL; every role then gives its
// HTTP server up to ShutdownTimeout to close. The flags of cmd/sluice
// default to these, and deploy's tests hold the grace periods of the
// deployment files to them.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultKillGrace    = 10 * time.Second
	ShutdownTimeout     = 10 * time.Second
)

// Config configures a sluice process. Zero values take the documented
// defaults of the `sluice server` flags.
type Config struct {
	// Home is the data directory of the SQLite store.
	Home string
	// DB selects the store: empty for SQLite in Home, or a postgres:// URL.
	DB string
	// DBMaxConns bounds the PostgreSQL connection pool.
	DBMaxConns int
	// NoListen turns off PostgreSQL LISTEN; waiters poll.
	NoListen bool
	// Pipelines is the folder of pipeline files to load; empty for none.
	Pipelines string
	// Rescan is how often the pipelines folder is checked for changes.
	Rescan time.Duration
	// Retention is how long finished runs are kept by default (0: forever);
	// RetentionEvery how often schedulers prune (negative: never).
	Retention      time.Duration
	RetentionEvery time.Duration
	// Listen is the HTTP address; empty for no HTTP server.
	Listen string
	// Roles to run. Web serves the REST API and the UI on Listen; without
	// it, Listen serves /healthz and /readyz only.
	Scheduler, Worker, Web bool
	// Auth is how web requests are authenticated: password (default) or
	// none (loopback only).
	Auth auth.Mode
	// AllowedHosts, when set, are the only Host names the web role serves
	// besides loopback ones (see auth.ParseHosts).
	AllowedHosts []string
	// TrustedProxies are the proxies whose X-Forwarded-For tells the
	// client's address (see auth.ParseProxies).
	TrustedProxies []string
	// ForwardedHeader is the header they write it in: X-Forwarded-For
	// (default) or Forwarded.
	ForwardedHeader string
	// TLSCert and TLSKey serve HTTPS when both are set.
	TLSCert, TLSKey string
	// Worker settings; see worker.Config.
	WorkerID     string
	Labels       []string
	Concurrency  int
	Lease        time.Duration
	Poll         time.Duration
	DrainTimeout time.Duration
	KillGrace    time.Duration
	// ContainerHost is the container engine's address; see
	// worker.Config.ContainerHost.
	ContainerHost string
	// Kubeconfig and KubeNamespace say which Kubernetes cluster runs
	// Kubernetes pod tasks; see worker.Config.
	Kubeconfig, KubeNamespace string
	// Sync is the SQLite durability.
	Sync   string
	Holder string
	Logger *slog.Logger
	// Listening, if set, is called with the HTTP server's address once it
	// accepts connections.
	Listening func(addr string)
}

// IsPostgres reports whether a --db value names PostgreSQL.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") || strings.Contains(db, "host=")
}

// CheckDB checks a --db value: empty (or "sqlite") for SQLite in the data
// directory, or a PostgreSQL URL.
func CheckDB(db string) error {
	if db == "" || db == "sqlite" || IsPostgres(db) {
		return nil
	}
	return errors.New("want empty (SQLite in --home) or a postgres:// URL")
}

// OpenStore opens the store cfg names.
func OpenStore(ctx context.Context, cfg *Config) (store.Store, error) {
	if err := CheckDB(cfg.DB); err != nil {
		return nil, sluice.Errorf(sluice.EINVALID, "--db %q: %v", cfg.DB, err)
	}
	if IsPostgres(cfg.DB) {
		return postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: cfg.DBMaxConns, NoListen: cfg.NoListen, Logger: cfg.Logger})
	}
	return sqlite.Open(ctx, cfg.Home, sqlite.Options{Sync: cfg.Sync, Holder: cfg.Holder})
}

// openRetrying opens the store, waiting with backoff while the database is
// unreachable: a process started during an outage comes up when it ends.
func openRetrying(ctx context.Context, cfg *Config, log *slog.Logger) (store.Store, error) {
	for n := 1; ; n++ {
		st, err := OpenStore(ctx, cfg)
		if err == nil || sluice.ErrorCode(err) != sluice.EUNAVAIL {
			if err == nil && n > 1 {
				log.Info("database reachable; starting")
			}
			return st, err
		}
		if n == 1 {
			log.Warn("database unavailable; waiting for it", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(store.Backoff(n, 5*time.Second)):
		}
	}
}

// Run runs the configured roles until ctx ends, then drains. A value on
// kill ends the drain at once.
func Run(ctx context.Context, cfg Config, kill <-chan struct{}) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
		cfg.Logger = log
	}
	if cfg.Auth == "" {
		cfg.Auth = auth.ModePassword
	}
	if cfg.Auth != auth.ModePassword && cfg.Auth != auth.ModeNone {
		return sluice.Errorf(sluice.EINVALID, "--auth %q: want password or none", cfg.Auth)
	}
	var (
		hosts     []string
		proxies   []netip.Prefix
		forwarded string
	)
	if cfg.Web {
		if err := auth.CheckListen(cfg.Auth, cfg.Listen); err != nil {
			return err
		}
		var err error
		if hosts, err = auth.ParseHosts(cfg.AllowedHosts); err != nil {
			return sluice.Errorf(sluice.EINVALID, "%v", err)
		}
		if proxies, err = auth.ParseProxies(cfg.TrustedProxies); err != nil {
			return sluice.Errorf(sluice.EINVALID, "%v", err)
		}
		if forwarded, err = auth.ParseForwardedHeader(cfg.ForwardedHeader); err != nil {
			return sluice.Errorf(sluice.EINVALID, "%v", err)
		}
		if err := auth.CheckHosts(cfg.Auth, hosts); err != nil {
			return err
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return sluice.Errorf(sluice.EINVALID, "--tls-cert and --tls-key go together")
	}
	st, err := openRetrying(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	_, single := st.(*sqlite.Store)
	m := metrics.New()
	// The scheduler and workers do their work by writing: their process is
	// ready while its writes succeed (see Writes). A web process is ready
	// while the database answers.
	var writes *Writes
	var observer store.Observer = m
	if cfg.Scheduler || cfg.Worker {
		writes = NewWrites(WritesConfig{Next: m})
		observer = writes
	}
	if o, ok := st.(store.Observable); ok {
		o.SetObserver(observer)
	}
	if sr, ok := st.(store.StatsReader); ok {
		m.WatchStore(sr)
	}
	var au *auth.Auth
	if cfg.Web {
		au = auth.New(auth.Config{Store: st, Mode: cfg.Auth, SecureCookies: cfg.TLSCert != "", AllowedHosts: hosts, TrustedProxies: proxies, ForwardedHeader: forwarded, Logger: log})
	}

	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
	bgCtx, bgStop := context.WithCancel(context.Background())
	defer bgStop()
	fail := func(err error) { errOnce.Do(func() { runErr = err }) }
	if writes != nil {
		wg.Add(1)
		go func() { defer wg.Done(); writes.Run(bgCtx, st) }()
	}

	// The scheduler and the worker share their decoded versions: each
	// would otherwise read and hold its own copy of every version.
	vc := versions.New(st)
	var admin firstAdmin
	if cfg.Listen != "" && au != nil {
		admin = createFirstAdmin(ctx, au)
	}
	if cfg.Pipelines != "" {
		loader := catalog.NewLoader(st, cfg.Pipelines, log)
		loader.SetMetrics(m)
		if _, err := os.Stat(cfg.Pipelines); err != nil {
			log.Warn("pipelines folder not found; create it or pass --pipelines", "dir", cfg.Pipelines)
		} else if _, err := loader.Sync(ctx); err != nil {
			log.Warn("could not load pipelines; retrying", "err", err)
		}
		rescan := cfg.Rescan
		if rescan <= 0 {
			rescan = time.Second
		}
		wg.Add(1)
		go func() { defer wg.Done(); loader.Run(bgCtx, rescan) }()
	}
	if cfg.Scheduler {
		sch := scheduler.New(scheduler.Config{Store: st, Versions: vc, Logger: log, ReapOrphans: single, Interval: cfg.Poll, Metrics: m,
			Retention: cfg.Retention, RetentionEvery: cfg.RetentionEvery})
		wg.Add(1)
		go func() { defer wg.Done(); _ = sch.Run(bgCtx) }()
	}
	workerDone := make(chan struct{})
	// Workers open secrets with the key; web processes seal them with it.
	var box *secret.Box
	if cfg.Worker || au != nil {
		home := ""
		if single {
			home = cfg.Home // the key file lives beside the database
		}
		if box, err = secret.Load(home, single); err != nil {
			bgStop()
			return err
		}
	}
	if cfg.Worker {
		w, err := worker.New(worker.Config{
			Store: st, Versions: vc, Metrics: m, ID: cfg.WorkerID, Concurrency: cfg.Concurrency, Lease: cfg.Lease, Poll: cfg.Poll,
			DrainTimeout: cfg.DrainTimeout, KillGrace: cfg.KillGrace, Logger: log, Labels: cfg.Labels, Secrets: box,
			ContainerHost: cfg.ContainerHost, Kubeconfig: cfg.Kubeconfig, KubeNamespace: cfg.KubeNamespace,
		})
		if err != nil {
			return err
		}
		log.Info("worker started", "worker", w.ID(), "concurrency", cfg.Concurrency, "labels", cfg.Labels)
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
			<-workerDone
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
		srv = &http.Server{Handler: NewHandler(HandlerConfig{Store: st, Auth: au, Secrets: box, Metrics: m, Writes: writes, Logger: log}), ReadHeaderTimeout: 10 * time.Second}
		httpstream.Watch(srv)
		addr := ln.Addr().String()
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		log.Info("listening", "url", scheme+"://"+addr)
		if cfg.Listening != nil {
			cfg.Listening(addr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if cfg.TLSCert != "" {
				err = srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(err)
			}
		}()
		if au != nil {
			if err := bootstrapAuth(ctx, au, admin, st, &cfg, single, scheme+"://"+addr, log); err != nil {
				log.Error("could not set up the first user", "err", err)
			}
		}
	}

	// From here on a signal drains: tests and supervisors may wait for
	// this line before they send one.
	log.Info("running", "roles", cfg.roles())
	<-ctx.Done()
	if cfg.Worker {
		log.Info("stopping: no new tasks are claimed; running ones may finish", "drain_timeout", cfg.DrainTimeout.String())
	} else {
		log.Info("stopping")
	}
	<-workerDone
	bgStop()
	if srv != nil {
		// Requests in flight get ShutdownTimeout to finish, streams end at
		// once (internal/httpstream), and a second signal cuts it short.
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		go func() {
			select {
			case <-kill:
				cancel()
			case <-sctx.Done():
			}
		}()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("open HTTP requests cut short", "err", err)
			_ = srv.Close()
		}
		cancel()
	}
	wg.Wait()
	log.Info("stopped")
	return runErr
}

// roles names the roles cfg runs, for the log.
func (cfg *Config) roles() []string {
	var out []string
	for _, r := range []struct {
		on   bool
		name string
	}{{cfg.Scheduler, "scheduler"}, {cfg.Worker, "worker"}, {cfg.Web, "web"}} {
		if r.on {
			out = append(out, r.name)
		}
	}
	return out
}
