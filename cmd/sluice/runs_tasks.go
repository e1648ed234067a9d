package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/client"
)

// runsTasksCmd lists task instances across runs and pipelines: the CLI
// side of the UI's Browse page.
func runsTasksCmd(r *remote) *cobra.Command {
	var f client.TaskInstanceFilter
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List task instances of every run and pipeline, newest first",
		Long: `List task instances of every run and pipeline, newest first, with the run
each belongs to ('sluice runs show RUN', 'sluice logs RUN TASK'). The
filters combine; --since and --until bound the logical date of the run:
a time ago (12h, 7d), a date (2026-12-04, in the local zone, or UTC with
--utc) or an RFC 3339 time.`,
		Example: `  sluice runs tasks --state failed --since 12h
  sluice runs tasks --state up_for_retry,running --tag finance`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			f.Since, f.Until = zonedBound(f.Since), zonedBound(f.Until)
			page, err := c.ListTaskInstances(cmd.Context(), f)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, page)
			}
			if len(page.TaskInstances) == 0 {
				fmt.Fprintln(out, "No task instances.")
				return nil
			}
			t := newTable(out, "RUN", "PIPELINE", "TASK", "STATE", "ATTEMPTS", "LOGICAL DATE", "STARTED", "DURATION")
			for _, ti := range page.TaskInstances {
				task := ti.Task
				if ti.MapIndex != nil {
					task += "[" + strconv.Itoa(*ti.MapIndex) + "]"
				}
				t.row(fmt.Sprint(ti.Run), ti.Pipeline, task, ti.State, fmt.Sprint(ti.Attempts), shortTime(ti.LogicalDate), shortTimePtr(ti.StartedAt), shortDuration(ti.DurationSeconds))
			}
			t.flush()
			if page.NextBefore != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "More: sluice runs tasks --before %d\n", *page.NextBefore)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Pipeline, "pipeline", "", "only task instances of this pipeline")
	fl.StringSliceVar(&f.States, "state", nil, "only task instances in these states: failed, upstream_failed, running, up_for_retry, queued, success, skipped, … (repeat or separate with commas)")
	fl.StringSliceVar(&f.Tags, "tag", nil, "only task instances of pipelines with any of these tags")
	fl.StringVar(&f.Since, "since", "", "only runs with a logical date at or after this: 12h, 7d, 2026-12-04 or an RFC 3339 time")
	fl.StringVar(&f.Until, "until", "", "only runs with a logical date before this, written as --since")
	fl.IntVar(&f.Limit, "limit", 20, "how many task instances to list, at most 500")
	fl.Int64Var(&f.Before, "before", 0, "only task instances older than this id, for the next page")
	commandLineOnly(cmd, "pipeline", "tag", "since", "until", "state")
	return cmd
}
