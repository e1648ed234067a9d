package main

import (
	"errors"
	"fmt"
	"sort"
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
		groups     []string
	)
	cmd := &cobra.Command{
		Use:   "clear RUN [TASK...] [--group NAME]...",
		Short: "Run finished tasks again: with their downstream (default), upstream, only failed ones, across past and future runs",
		Long: `Run finished task instances again, with fresh retries, as Airflow's Clear
dialog does. The tasks named and, by default, every task downstream of
them are cleared in the run; --upstream adds the tasks before them,
--only-failed keeps the failed and upstream_failed ones, and --past and
--future do the same in the pipeline's earlier and later runs (by logical
date). --dry-run lists what would be cleared. Tasks still running are
left alone. --group NAME clears every task of a task group (group: in the
pipeline file, as the run's version has it), as if each was named.`,
		Example: `  sluice runs clear 42 load
  sluice runs clear 42 load --downstream=false
  sluice runs clear 42 extract --only-failed --past --dry-run
  sluice runs clear 42 --group load --downstream=false`,
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || len(args) == 1 && len(groups) == 0 {
				return errors.New("name the run and at least one task, or a group with --group")
			}
			return nil
		}),
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
			if len(groups) > 0 {
				run, err := c.GetRun(cmd.Context(), id)
				if err != nil {
					return r.fail(err)
				}
				tasks, err := groupTasks(run, groups)
				if err != nil {
					return err
				}
				f.sel.Tasks = append(f.sel.Tasks, tasks...)
			}
			res, err := c.ClearSet(cmd.Context(), id, api.ClearRequest{Selection: f.sel, OnlyFailed: onlyFailed})
			if err != nil {
				return r.fail(err)
			}
			return printSelection(cmd, r, res, "cleared", "would clear")
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&onlyFailed, "only-failed", false, "only failed and upstream_failed instances")
	cmd.Flags().StringArrayVar(&groups, "group", nil, "clear every task of this task group (repeatable)")
	return cmd
}

// groupTasks returns the tasks of run that are in any of groups, in the
// run's order; a group with no task in the run is an error that lists
// the run's groups.
func groupTasks(run *api.RunDetail, groups []string) ([]string, error) {
	var tasks, known []string
	has := map[string]bool{}
	for _, t := range run.Tasks {
		if t.Group != "" && !has[t.Group] {
			has[t.Group] = true
			known = append(known, t.Group)
		}
	}
	for _, g := range groups {
		if !has[g] {
			which := "it has no task groups"
			if len(known) > 0 {
				sort.Strings(known)
				which = "its groups are " + strings.Join(known, ", ")
			}
			return nil, fmt.Errorf("run %d has no task in group %q: %s", run.ID, g, which)
		}
		for _, t := range run.Tasks {
			if t.Group == g {
				tasks = append(tasks, t.Task)
			}
		}
	}
	return tasks, nil
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
			t.row(fmt.Sprint(in.Run), shortTime(in.LogicalDate), in.Task, in.State)
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
