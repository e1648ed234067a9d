package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

func runsCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List, show, cancel and retry the runs of a running server",
		Long: `Work with the runs of a running sluice server, through its REST API. A run
is one execution of a pipeline: scheduled, triggered by hand, or a
backfill. Each of its tasks runs in one or more attempts, each with its
own log ('sluice logs RUN TASK').

These commands talk to --server (default ` + defaultServer + `); see
'sluice pipelines --help' for tokens.`,
		Example: `  sluice runs list --state failed
  sluice runs show 42
  sluice runs retry 42`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(runsListCmd(r), runsShowCmd(r), runsCancelCmd(r), runsRetryCmd(r), runsClearCmd(r), runsMarkCmd(r), runsTasksCmd(r))
	return cmd
}

func runsListCmd(r *remote) *cobra.Command {
	var f client.RunFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs of every pipeline, newest first",
		Long: `List runs of every pipeline, newest first. The filters combine: what
failed last night, everywhere, is 'sluice runs list --state failed --since 12h'.
--since and --until bound the logical date: a time ago (12h, 7d), a date
(2026-12-04, in the local zone, or UTC with --utc) or an RFC 3339 time.`,
		Example: `  sluice runs list --state failed --since 12h
  sluice runs list --pipeline daily_orders --state failed,cancelled --limit 50
  sluice runs list --tag finance --since 2026-12-01 --until 2026-12-02`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			f.Since, f.Until = zonedBound(f.Since), zonedBound(f.Until)
			page, err := c.ListRuns(cmd.Context(), f)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, page)
			}
			if len(page.Runs) == 0 {
				fmt.Fprintln(out, "No runs.")
				return nil
			}
			t := newTable(out, "RUN", "PIPELINE", "STATE", "KIND", "LOGICAL DATE", "STARTED", "DURATION")
			for _, run := range page.Runs {
				t.row(fmt.Sprint(run.ID), run.Pipeline, run.State, run.Kind, shortTime(run.LogicalDate), shortTimePtr(run.StartedAt), shortDuration(run.DurationSeconds))
			}
			t.flush()
			if page.NextBefore != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "More: sluice runs list --before %d\n", *page.NextBefore)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Pipeline, "pipeline", "", "only runs of this pipeline")
	fl.StringSliceVar(&f.States, "state", nil, "only runs in these states: queued, running, success, failed, cancelled (repeat or separate with commas)")
	fl.IntVar(&f.Limit, "limit", 20, "how many runs to list, at most 500")
	fl.Int64Var(&f.Before, "before", 0, "only runs older than this run id, for the next page")
	fl.StringSliceVar(&f.Tags, "tag", nil, "only runs of pipelines with any of these tags (repeat or separate with commas)")
	fl.StringVar(&f.Since, "since", "", "only runs with a logical date at or after this: 12h, 7d, 2026-12-04 or an RFC 3339 time")
	fl.StringVar(&f.Until, "until", "", "only runs with a logical date before this, written as --since")
	commandLineOnly(cmd, "pipeline", "tag", "since", "until")
	return cmd
}

func runsShowCmd(r *remote) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run and the state of each of its tasks",
		Long: `Show a run and the state of each of its tasks, in dependency order, with
the error of each task that failed. With --wait, follow the run until it
finishes; the exit status is then 0 when it succeeded and 1 when not.`,
		Example: `  sluice runs show 42
  sluice runs show 42 --wait`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if wait {
				ctx, stop := interrupted(cmd.Context())
				defer stop()
				return followRun(ctx, r, c, id, cmd.OutOrStdout())
			}
			d, err := c.GetRun(cmd.Context(), id)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, d)
			}
			showRun(cmd.Context(), out, c, d)
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the run until it finishes; exit 0 if it succeeded, 1 if not")
	return cmd
}

func showRun(ctx context.Context, out io.Writer, c *client.Client, d *api.RunDetail) {
	kv := newTable(out, "run", fmt.Sprintf("%d of %s (%s)", d.ID, d.Pipeline, d.Kind))
	kv.row("state", d.State)
	if d.ParentRunID != nil {
		kv.row("started by", fmt.Sprintf("run %d, task %s (sluice runs show %d)", *d.ParentRunID, d.ParentTask, *d.ParentRunID))
	}
	if by := triggeredBy(d.Triggers); by != "" {
		kv.row("triggered by", by)
	}
	kv.row("logical date", fullTime(d.LogicalDate))
	if p := string(d.Params); p != "{}" && p != "" && p != "null" {
		kv.row("params", p)
	}
	kv.row("started", shortTimePtr(d.StartedAt))
	kv.row("finished", shortTimePtr(d.FinishedAt))
	kv.row("duration", shortDuration(d.DurationSeconds))
	kv.flush()
	fmt.Fprintln(out)
	children := map[string][]api.Run{}
	for _, ch := range d.Children {
		children[ch.ParentTask] = append(children[ch.ParentTask], ch)
	}
	t := newTable(out, "TASK", "STATE", "ATTEMPTS", "STARTED", "DURATION", "NOTE")
	for _, task := range d.Tasks {
		t.row(task.Task, stateText(task.State, task.AllowFailure), fmt.Sprint(task.Attempts), shortTimePtr(task.StartedAt), shortDuration(task.DurationSeconds),
			orDash(taskNote(ctx, c, d.ID, task, children[task.Task])))
		for _, it := range shownItems(task.Items) {
			t.row("  ["+strconv.Itoa(it.MapIndex)+"] "+clip(it.Item, 30), it.State, fmt.Sprint(it.Attempts), shortTimePtr(it.StartedAt), shortDuration(it.DurationSeconds),
				orDash(itemNote(ctx, c, d.ID, task.Task, it)))
		}
		if n := len(task.Items) - len(shownItems(task.Items)); n > 0 {
			t.row(fmt.Sprintf("  … %d more item(s)", n), "", "", "", "", fmt.Sprintf("sluice runs show %d --json", d.ID))
		}
	}
	t.flush()
	if len(d.Children) > 0 {
		fmt.Fprintln(out)
		t := newTable(out, "CHILD RUN", "PIPELINE", "STARTED BY TASK", "STATE", "DURATION")
		for _, ch := range d.Children {
			t.row(strconv.FormatInt(ch.ID, 10), ch.Pipeline, ch.ParentTask, ch.State, shortDuration(ch.DurationSeconds))
		}
		t.flush()
	}
	showCallbacks(out, d)
	fmt.Fprintf(out, "\nA task's log: sluice logs %d TASK\n", d.ID)
}

// triggeredBy says in one line which events asked for a run: a webhook
// delivery, the asset events consumed, or a file's arrival; "" for none.
func triggeredBy(trs []api.RunTrigger) string {
	var parts []string
	for _, tr := range trs {
		switch {
		case tr.Assets != nil:
			var evs []string
			for _, a := range tr.Assets {
				evs = append(evs, fmt.Sprintf("%s (event %d)", a.Asset, a.EventID))
			}
			parts = append(parts, "assets "+strings.Join(evs, ", "))
		case tr.File != nil:
			parts = append(parts, fmt.Sprintf("%s: %s (%d bytes, modified %s)", tr.Source, tr.File.Path, tr.File.Size, fullTime(tr.File.Mtime)))
		case strings.HasPrefix(tr.Key, "unkeyed__"):
			parts = append(parts, tr.Source+" delivery without a key")
		default:
			parts = append(parts, fmt.Sprintf("%s, key %s", tr.Source, tr.Key))
		}
	}
	return strings.Join(parts, "; ")
}

// maxItemsShown bounds the items of a mapped task that 'runs show' lists;
// past it, those that did not succeed are shown first.
const maxItemsShown = 20

// shownItems picks the items of a mapped task to list: all of them when
// few, else those that did not succeed (or were skipped) first, in order.
func shownItems(items []api.TaskItem) []api.TaskItem {
	if len(items) <= maxItemsShown {
		return items
	}
	var out []api.TaskItem
	for _, it := range items {
		if it.State != "success" && it.State != "skipped" && len(out) < maxItemsShown {
			out = append(out, it)
		}
	}
	for _, it := range items {
		if len(out) >= maxItemsShown {
			break
		}
		if it.State == "success" || it.State == "skipped" {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MapIndex < out[j].MapIndex })
	return out
}

// taskNote says what a task's row needs said: why it failed, why it
// cannot start, how far its items are, which runs it started.
func taskNote(ctx context.Context, c *client.Client, run int64, t api.TaskInstance, children []api.Run) string {
	var notes []string
	if t.Note != "" {
		notes = append(notes, t.Note) // the when: condition that skipped it
	}
	if t.Blocked != "" {
		notes = append(notes, blockedNote(t.State, t.Blocked))
	}
	if t.ItemsTotal > 0 {
		notes = append(notes, itemCounts(t))
	}
	if len(children) > 0 {
		last := children[len(children)-1]
		notes = append(notes, fmt.Sprintf("child run %d of %s: %s", last.ID, last.Pipeline, last.State))
	}
	if t.ItemsTotal == 0 {
		if e := taskError(ctx, c, run, t); e != "" {
			notes = append(notes, e)
		}
	}
	return strings.Join(notes, "; ")
}

// blockedNote says why a task cannot start; once it has failed for that
// reason (after its queued_timeout) the reason alone is said.
func blockedNote(state, reason string) string {
	if state == "failed" || state == "upstream_failed" || state == "cancelled" {
		return reason
	}
	return "blocked: " + reason
}

// itemCounts sums up a mapped task's items by state.
func itemCounts(t api.TaskInstance) string {
	counts := map[string]int{}
	for _, it := range t.Items {
		counts[it.State]++
	}
	var parts []string
	for _, s := range []string{"success", "failed", "upstream_failed", "skipped", "cancelled", "running", "up_for_retry", "queued", "pending"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return fmt.Sprintf("%d item(s): %s", t.ItemsTotal, strings.Join(parts, ", "))
}

// itemNote is why an item of a mapped task failed or cannot start.
func itemNote(ctx context.Context, c *client.Client, run int64, task string, it api.TaskItem) string {
	if it.Blocked != "" {
		return blockedNote(it.State, it.Blocked)
	}
	if it.State != "failed" && it.State != "up_for_retry" {
		return ""
	}
	d, err := c.GetTaskItem(ctx, run, task, it.MapIndex)
	if err != nil || len(d.Attempts) == 0 {
		return ""
	}
	return d.Attempts[len(d.Attempts)-1].Error
}

// taskError is why a failed task failed: its last attempt's error.
func taskError(ctx context.Context, c *client.Client, run int64, t api.TaskInstance) string {
	if t.State != "failed" && t.State != "up_for_retry" {
		return ""
	}
	d, err := c.GetTask(ctx, run, t.Task)
	if err != nil || len(d.Attempts) == 0 {
		return ""
	}
	return d.Attempts[len(d.Attempts)-1].Error
}

// interrupted returns a context that ends at the first SIGINT or SIGTERM.
func interrupted(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func stoppedFollowing(out io.Writer, id int64) error {
	fmt.Fprintf(out, "stopped following; run %d goes on: sluice runs show %d\n", id, id)
	return exitWith(130, nil)
}

func runsCancelCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a queued or running run; its running tasks are stopped",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			run, err := c.Cancel(cmd.Context(), id)
			if err != nil {
				return r.fail(err)
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), run)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancelled run %d of %s\n", run.ID, run.Pipeline)
			return nil
		},
	}
}

func runsRetryCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "retry RUN",
		Short: "Run the failed tasks of a run again (and the tasks they held back)",
		Long: `Run the failed and upstream_failed tasks of a run again, each with its
retries afresh; the run is running again until they finish.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			n, err := c.Retry(cmd.Context(), id)
			if err != nil {
				return r.fail(err)
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), api.RetryResult{Retried: n})
			}
			if n == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "run %d has no failed tasks to retry\n", id)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "retrying %d task(s) of run %d: sluice runs show %d --wait\n", n, id, id)
			return nil
		},
	}
}
