package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/server"
)

// role says which parts of sluice a command runs.
type role struct {
	name                 string
	scheduler, worker    bool
	web                  bool
	defaultListen        string
	short, long, example string
}

var roles = []role{
	{
		name: "server", scheduler: true, worker: true, web: true, defaultListen: "127.0.0.1:8080",
		short: "Run every role in one process: pipeline loading, scheduler, workers, HTTP",
		long: `Run every role of sluice in one process: it loads the pipeline files of
--pipelines (and reloads them when they change), creates runs when their
schedules are due, prunes runs past their retention, runs tasks on its
workers, and serves the web UI, the REST API (/api/v1), /metrics, /healthz
and /readyz on --listen.

With no --db, state lives in an embedded SQLite database under --home, and
only one process may use a home directory. With --db postgres://…, run
'sluice server' on as many machines as you like, or split the roles with
'sluice scheduler', 'sluice worker' and 'sluice web'.

On SIGINT or SIGTERM it stops claiming tasks, lets running ones finish for
up to --drain-timeout, then hands the rest back to other workers; a second
signal stops at once.`,
		example: `  sluice server --pipelines examples
  SLUICE_HOME=/var/lib/sluice sluice server --listen :8080
  sluice server --db postgres://sluice@db/sluice --pipelines /etc/sluice/pipelines`,
	},
	{
		name: "scheduler", scheduler: true, defaultListen: "127.0.0.1:8081",
		short: "Run the scheduler role (PostgreSQL): load pipelines, create due runs, requeue lost tasks",
		long: `Run only the scheduler: it loads the pipeline files of --pipelines into the
database, creates runs when their schedules are due, starts queued runs
when max_active_runs allows, and requeues the tasks of workers that
stopped renewing their leases; one of them at a time prunes runs past
their retention. Any number may run at once: they coordinate through row
locks, unique keys and leases, with no leader. It serves /metrics,
/healthz and /readyz on --listen.`,
		example: `  sluice scheduler --db postgres://sluice@db/sluice --pipelines /etc/sluice/pipelines`,
	},
	{
		name: "worker", worker: true, defaultListen: "127.0.0.1:8082",
		short: "Run the worker role (PostgreSQL): claim ready tasks and run them",
		long: `Run only a worker: it claims ready tasks, runs them with up to --concurrency
at once, renews their leases, and records their outcomes. On SIGINT or
SIGTERM it claims nothing more, lets running tasks finish for up to
--drain-timeout, then hands the rest back; a second signal stops at once.
It serves /metrics, /healthz and /readyz on --listen.`,
		example: `  sluice worker --db postgres://sluice@db/sluice --concurrency 32`,
	},
	{
		name: "web", web: true, defaultListen: "127.0.0.1:8080",
		short: "Run the web role (PostgreSQL): the web UI and the REST API",
		long: `Run only the web UI and the REST API (/api/v1), with /metrics, /healthz and
/readyz. Every web process reads everything from the database, so all of
them show the same truth; run as many as you like behind a load balancer.`,
		example: `  sluice web --db postgres://sluice@db/sluice --listen :8080`,
	},
}

func roleCmds() []*cobra.Command {
	var cmds []*cobra.Command
	for _, r := range roles {
		cmds = append(cmds, roleCmd(r))
	}
	return cmds
}

func roleCmd(r role) *cobra.Command {
	cfg := server.Config{Scheduler: r.scheduler, Worker: r.worker, Web: r.web}
	var authMode string
	cmd := &cobra.Command{
		Use:     r.name,
		Short:   r.short,
		Long:    r.long,
		Example: r.example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.name != "server" && !server.IsPostgres(cfg.DB) {
				return exitWith(2, errors.New("'sluice "+r.name+"' runs one role in its own process, which needs a database that many processes share: "+
					"pass --db postgres://… (or set SLUICE_DB); on one machine with SQLite, run 'sluice server'"))
			}
			if err := positive(cmd.Flags(), "db-max-conns", "poll", "rescan", "concurrency", "lease", "drain-timeout", "kill-grace"); err != nil {
				return err
			}
			if r.scheduler && cfg.RetentionEvery == 0 {
				return exitWith(2, errors.New("invalid --retention-every 0s (flag or $SLUICE_RETENTION_EVERY): give how often to prune, or a negative duration to never prune"))
			}
			ctx, kill, stop := signals()
			defer stop()
			cfg.Holder = "sluice " + r.name
			cfg.Auth = auth.Mode(authMode)
			err := server.Run(ctx, cfg, kill)
			if sluice.ErrorCode(err) == sluice.EINVALID {
				// Run refused a setting: a flag or its $SLUICE_ variable.
				return exitWith(2, err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "database: empty for SQLite in --home, or a postgres:// URL")
	if r.name == "server" {
		f.StringVar(&cfg.Home, "home", ".sluice", "data directory of the embedded SQLite store")
		f.StringVar(&cfg.Sync, "sync", "normal", "SQLite durability: normal (a power loss may lose the last commits) or full")
	}
	if r.web {
		f.StringVar(&cfg.Listen, "listen", r.defaultListen, "HTTP address of the UI, the API, /healthz and /readyz (port 0 picks a free port)")
		f.StringVar(&authMode, "auth", "password", "authentication: password (users and API tokens), or none (only when listening on loopback, and only for requests addressed to a loopback name)")
		f.StringSliceVar(&cfg.AllowedHosts, "allowed-hosts", nil, "serve the UI and API only to requests addressed to these hosts (besides localhost and loopback addresses): names, .domain for a domain and its subdomains, addresses, CIDR prefixes, or *; default any with --auth password, loopback only with --auth none (where * is refused)")
		f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxies", nil, "addresses or CIDR prefixes of the reverse proxies in front of sluice, whose --forwarded-header gives the client's address (login limits, logs) and whether it came over HTTPS (Secure cookies); default none")
		f.StringVar(&cfg.ForwardedHeader, "forwarded-header", "X-Forwarded-For", "the header the --trusted-proxies write the client's address in: X-Forwarded-For (with X-Forwarded-Proto) or Forwarded; the other is not read")
		f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file, to serve HTTPS (with --tls-key)")
		f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS key file")
	} else {
		f.StringVar(&cfg.Listen, "listen", r.defaultListen, "HTTP address of /healthz and /readyz (port 0 picks a free port; empty for none)")
	}
	f.IntVar(&cfg.DBMaxConns, "db-max-conns", 8, "PostgreSQL connections this process may open")
	f.BoolVar(&cfg.NoListen, "no-listen", false, "PostgreSQL behind a transaction-pooling proxy (PgBouncer): keep nothing on a connection beyond a transaction (no LISTEN: waiters poll; no named prepared statements)")
	if r.scheduler || r.worker {
		f.DurationVar(&cfg.Poll, "poll", time.Second, "longest wait for work when no wake-up arrives")
	}
	if r.scheduler {
		f.StringVar(&cfg.Pipelines, "pipelines", "pipelines", "folder of pipeline files (*.yaml, *.yml), watched for changes")
		f.DurationVar(&cfg.Rescan, "rescan", 2*time.Second, "how often the pipelines folder is rescanned, besides file system events (for network file systems)")
		cfg.Retention = 30 * 24 * time.Hour
		f.Var((*days)(&cfg.Retention), "retention", "how long finished runs are kept with their logs and outputs, unless their pipeline sets retention: (e.g. 30d, 12h; 0 keeps them forever)")
		f.DurationVar(&cfg.RetentionEvery, "retention-every", time.Hour, "how often retention prunes, on whichever scheduler takes the job (negative: never)")
	}
	if r.worker {
		addWorkerFlags(f, &cfg)
	}
	return cmd
}

func addWorkerFlags(f *pflag.FlagSet, cfg *server.Config) {
	f.StringVar(&cfg.WorkerID, "worker-id", "", "name of this worker in attempts and logs (default host:pid:random)")
	f.StringSliceVar(&cfg.Labels, "labels", nil, "labels of this worker, e.g. gpu,python3.12: it runs tasks that require only labels it has")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "tasks this process runs at once")
	f.DurationVar(&cfg.Lease, "lease", 30*time.Second, "how long a task's lease lasts without a heartbeat; a dead worker's tasks are retried after it")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", server.DefaultDrainTimeout, "on shutdown, how long running tasks may finish before they are handed back")
	f.DurationVar(&cfg.KillGrace, "kill-grace", server.DefaultKillGrace, "time between SIGTERM and SIGKILL when a task is stopped")
	f.StringVar(&cfg.ContainerHost, "container-host", docker.HostFromEnv(), containerHostHelp)
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", kubeconfigHelp)
	f.StringVar(&cfg.KubeNamespace, "kube-namespace", "", kubeNamespaceHelp)
}

// kubeconfigHelp and kubeNamespaceHelp describe the Kubernetes flags of
// every command that runs tasks.
const (
	kubeconfigHelp = "kubeconfig of the Kubernetes cluster for Kubernetes pod tasks (default: in a Pod its service account, else $KUBECONFIG, else ~/.kube/config); " +
		"a worker that reaches it gets the label kubernetes; none for no cluster"
	kubeNamespaceHelp = "namespace of the Pods of tasks that name none (default the kubeconfig's, else default)"
)

// containerHostHelp describes --container-host for every command that runs tasks.
const containerHostHelp = "address of the container engine for container tasks (Docker, or Podman's podman system service): unix:///PATH or tcp://HOST:PORT, default $DOCKER_HOST or " +
	docker.DefaultHost + "; a worker that reaches it gets the label container; none for no engine"

// days is a duration flag that also takes days ("30d"), as pipeline files
// do, and prints whole days as days.
type days time.Duration

func (d *days) Set(s string) error {
	v, err := pipeline.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

func (d *days) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

func (d *days) Type() string { return "duration" }
