package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/server"
)

func serverCmd() *cobra.Command {
	cfg := server.Config{Scheduler: true, Worker: true}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run every role in one process: pipeline loading, scheduler, workers, HTTP",
		Long: `Run every role of sluice in one process: it loads the pipeline files of
--pipelines (and reloads them when they change), creates runs when their
schedules are due, runs tasks on its workers, and serves /healthz and
/readyz on --listen.

With no --db, state lives in an embedded SQLite database under --home; only
one process may use a home directory.

On SIGINT or SIGTERM it stops claiming tasks, lets running ones finish for
up to --drain-timeout, then hands the rest back; a second signal stops at once.`,
		Example: `  sluice server --pipelines examples
  SLUICE_HOME=/var/lib/sluice sluice server --listen :8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, kill, stop := signals()
			defer stop()
			cfg.Holder = "sluice server"
			return server.Run(ctx, cfg, kill)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Home, "home", ".sluice", "data directory of the embedded SQLite store")
	f.StringVar(&cfg.DB, "db", "", "database: empty for SQLite in --home")
	f.StringVar(&cfg.Pipelines, "pipelines", "pipelines", "folder of pipeline files (*.yaml, *.yml), watched for changes")
	f.DurationVar(&cfg.Rescan, "rescan", time.Second, "how often the pipelines folder is checked for changes")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP listen address (port 0 picks a free port)")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "tasks this process runs at once")
	f.DurationVar(&cfg.Lease, "lease", 30*time.Second, "how long a task's lease lasts without a heartbeat; a dead worker's tasks are retried after it")
	f.DurationVar(&cfg.Poll, "poll", time.Second, "longest wait for work when no wake-up arrives")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 30*time.Second, "on shutdown, how long running tasks may finish before they are handed back")
	f.DurationVar(&cfg.KillGrace, "kill-grace", 10*time.Second, "time between SIGTERM and SIGKILL when a task is stopped")
	f.StringVar(&cfg.Sync, "sync", "normal", "SQLite durability: normal (a power loss may lose the last commits) or full")
	return cmd
}
