package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/control"
)

func logsCmd() *cobra.Command {
	r := &remote{}
	var (
		follow  bool
		attempt int
		item    int
	)
	cmd := &cobra.Command{
		Use:   "logs RUN TASK",
		Short: "Print the log of a task of a run, or follow it as it is written",
		Long: `Print the log of one task of a run: what its command wrote to stdout and
stderr, with the time of each line (in the local time zone, or UTC with
--utc; a line of another day than today also gives its date), and notes
sluice itself added; a mark
tells them apart: | stdout, ! stderr, # sluice's notes. A task
that was retried has a log per attempt; the latest is shown unless you
pick one with --attempt. Each item of a mapped task (for_each) has its own
log: pick it with --item, its index from 0 ('sluice runs show RUN' lists
the items).

With -f, follow the log as the task writes it, until the attempt ends;
for a task that has not started yet, wait for it. 'sluice runs show RUN'
lists a run's tasks.`,
		Example: `  sluice logs 42 extract
  sluice logs 42 extract -f
  sluice logs 42 extract --attempt 1 --json
  sluice logs 42 process --item 3 -f`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runArg(args[0])
			if err != nil {
				return err
			}
			if attempt < 0 {
				return exitWith(2, fmt.Errorf("--attempt %d: want an attempt number, from 1", attempt))
			}
			if item < -1 {
				return exitWith(2, fmt.Errorf("--item %d: want the index of an item, from 0", item))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			show := func(l api.LogLine) {
				if r.json {
					_ = printJSONLine(out, l)
					return
				}
				printLogLine(out, l, "")
			}
			if !follow {
				lines, err := c.ItemLogs(cmd.Context(), id, args[1], item, attempt)
				if err != nil {
					return r.fail(err)
				}
				for _, l := range lines {
					show(l)
				}
				if len(lines) == 0 && !r.json {
					fmt.Fprintf(cmd.ErrOrStderr(), "The log is empty: the task may not have started or written anything yet (follow it with -f).\n")
				}
				return nil
			}
			ctx, stop := interrupted(cmd.Context())
			defer stop()
			end, err := c.FollowItemLogs(ctx, id, args[1], item, attempt, show)
			if err != nil {
				if ctx.Err() != nil {
					return exitWith(130, nil)
				}
				return r.fail(err)
			}
			if !r.json {
				if end.Attempt == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "task %s ended %s without running\n", args[1], end.State)
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "attempt %d ended: %s\n", end.Attempt, end.State)
				}
			}
			return nil
		},
	}
	r.addFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log as it is written, until the attempt ends")
	cmd.Flags().IntVar(&attempt, "attempt", 0, "the attempt to show, from 1 (default the latest)")
	cmd.Flags().IntVar(&item, "item", -1, "the item of a mapped task to show, its index from 0 (default the task itself)")
	commandLineOnly(cmd, "attempt", "item")
	return cmd
}

// printLogLine prints a line of a task's log for people: its time in the
// display zone (local, or UTC with --utc; with its date when it is not of
// today, see clockTime), the mark of its stream ("|" stdout, "!" stderr, "#" sluice's own notes),
// then the text. 'sluice logs' and 'sluice run' both print with it, so a
// line reads the same in both; label, when not empty, names the task
// between the time and the mark, for 'sluice run', which shows several.
func printLogLine(w io.Writer, l api.LogLine, label string) {
	mark := "|"
	switch l.Stream {
	case control.StreamStderr:
		mark = "!"
	case control.StreamSluice:
		mark = "#"
	}
	ts := "-"
	if !l.Time.IsZero() {
		ts = clockTime(l.Time)
	}
	if label != "" {
		fmt.Fprintf(w, "%s  %s  %s %s\n", ts, label, mark, l.Line)
		return
	}
	fmt.Fprintf(w, "%s %s %s\n", ts, mark, l.Line)
}

// printJSONLine prints v as one line of JSON.
func printJSONLine(w io.Writer, v any) error {
	b, err := jsonLine(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
