package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

func workersCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the workers of a running server: labels, capacity, health",
		Long: `List the worker processes that run tasks for a sluice server, as each last
announced itself: its host and pid, its labels (a task that requires
labels runs only on a worker with all of them), how many tasks it runs at
once, its version, whether it is draining, and the problems its
environment check found at start (a missing interpreter, say).

A worker announces itself at every heartbeat; one not seen for a minute
is shown as gone, and it is forgotten after ten.`,
		Example: `  sluice workers list
  sluice workers list --json`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(workersListCmd(r))
	return cmd
}

func workersListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List workers with their labels, capacity and problems",
		Args:  usageArgs(cobra.NoArgs),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, _ []string) ([]api.Worker, error) {
				return c.ListWorkers(ctx)
			},
			hint("No workers: tasks wait until one starts ('sluice server', or 'sluice worker' with PostgreSQL)."),
			func(out io.Writer, list []api.Worker) {
				t := newTable(out, "WORKER", "HOST", "PID", "LABELS", "CONCURRENCY", "VERSION", "STATE", "STARTED", "LAST SEEN")
				var problems []string
				for _, w := range list {
					state := "alive"
					switch {
					case !w.Alive:
						state = "gone"
					case w.Draining:
						state = "draining"
					}
					if len(w.Problems) > 0 {
						state += fmt.Sprintf(", %d problem(s)", len(w.Problems))
						for _, p := range w.Problems {
							problems = append(problems, w.ID+": "+p)
						}
					}
					t.row(w.ID, w.Hostname, strconv.Itoa(w.PID), orDash(strings.Join(w.Labels, ",")), strconv.Itoa(w.Concurrency),
						orDash(w.Version), state, shortTime(w.StartedAt), ago(w.LastSeenAt))
				}
				t.flush()
				if len(problems) > 0 {
					fmt.Fprintln(out, "\nProblems the workers found in their environment at start:")
					for _, p := range problems {
						fmt.Fprintln(out, "  "+p)
					}
				}
			}),
	}
}

// ago says how long ago t was, roughly: "4s ago", "3m ago", or the time
// itself beyond an hour.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case t.IsZero():
		return "-"
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	}
	return shortTime(t)
}
