package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
)

// selectionFlags are the options of a clear or a mark: Airflow's Clear
// and Mark dialogs as flags.
type selectionFlags struct {
	sel api.Selection
}

func (f *selectionFlags) add(cmd *cobra.Command, downstream bool) {
	fl := cmd.Flags()
	fl.BoolVar(&f.sel.Downstream, "downstream", downstream, "with every task downstream of the task(s)")
	fl.BoolVar(&f.sel.Upstream, "upstream", false, "with every task upstream of the task(s)")
	fl.BoolVar(&f.sel.Past, "past", false, "also in the pipeline's runs with an earlier logical date")
	fl.BoolVar(&f.sel.Future, "future", false, "also in the pipeline's runs with a later logical date")
	fl.BoolVar(&f.sel.DryRun, "dry-run", false, "list what would change, change nothing")
}

func runsClearCmd(r *remote) *cobra.Command {
	var (
		f          selectionFlags
		onlyFailed bool
	)
	cmd := &cobra.Command{
		Use:   "clear RUN TASK...",
		Short: "Run finished tasks again: with their downstream (default), upstream, only failed ones, across past and future runs",
		Long: `Run finished task instances again, with fresh retries, as Airflow's Clear
dialog does. The tasks named and, by default, every task downstream of
them are cleared in the run; --upstream adds the tasks before them,
--only-failed keeps the failed and upstream_failed ones, and --past and
--future do the same in the pipeline's earlier and later runs (by logical
date). --dry-run lists what would be cleared. Tasks still running are
left alone.`,
		Example: `  sluice runs clear 42 load
  sluice runs clear 42 load --downstream=false
  sluice runs clear 42 extract --only-failed --past --dry-run`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			f.sel.Tasks = args[1:]
			res, err := c.ClearSet(cmd.Context(), id, api.ClearRequest{Selection: f.sel, OnlyFailed: onlyFailed})
			if err != nil {
				return r.fail(err)
			}
			return printSelection(cmd, r, res, "cleared", "would clear")
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&onlyFailed, "only-failed", false, "only failed and upstream_failed instances")
	return cmd
}

func runsMarkCmd(r *remote) *cobra.Command {
	var f selectionFlags
	cmd := &cobra.Command{
		Use:   "mark RUN TASK success|failed",
		Short: "Set a task's final state by hand (with --downstream, --upstream, --past, --future); its downstream tasks react as if it had finished so",
		Long: `Set a task's final state by hand, success or failed, as Airflow's Mark
success and Mark failed do: a running attempt is stopped, and the tasks
downstream react as if it had finished so. --downstream and --upstream
mark the tasks after or before it too, --past and --future the same
tasks in the pipeline's earlier and later runs; --dry-run lists what
would change.`,
		Example: `  sluice runs mark 42 load success
  sluice runs mark 42 load failed --downstream --dry-run`,
		Args: usageArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			state := strings.ToLower(args[2])
			if state != "success" && state != "failed" {
				return exitWith(2, errors.New("a task can be marked success or failed, not "+args[2]))
			}
			id, err := runArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			f.sel.Tasks = []string{args[1]}
			res, err := c.MarkSet(cmd.Context(), id, api.MarkSetRequest{Selection: f.sel, State: state})
			if err != nil {
				return r.fail(err)
			}
			return printSelection(cmd, r, res, "marked "+state, "would mark "+state)
		},
	}
	f.add(cmd, false)
	return cmd
}

// printSelection prints the instances a clear or a mark changed.
func printSelection(cmd *cobra.Command, r *remote, res *api.SelectionResult, did, would string) error {
	out := cmd.OutOrStdout()
	if r.json {
		return printJSON(out, res)
	}
	runs := map[int64]bool{}
	if len(res.Instances) > 0 {
		t := newTable(out, "RUN", "LOGICAL DATE", "TASK", "STATE BEFORE")
		for _, in := range res.Instances {
			runs[in.Run] = true
			t.row(fmt.Sprint(in.Run), in.LogicalDate.Format("2006-01-02 15:04 MST"), in.Task, in.State)
		}
		t.flush()
		fmt.Fprintln(out)
	}
	verb := did
	if res.DryRun {
		verb = would
	}
	fmt.Fprintf(out, "%s %d task instance(s) in %d run(s)\n", verb, res.Count, len(runs))
	return nil
}
