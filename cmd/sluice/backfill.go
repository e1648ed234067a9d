package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

func backfillCmd() *cobra.Command {
	r := &remote{}
	var (
		req     api.BackfillRequest
		params  []string
		dryRun  bool
		detach  bool
		rerunOK = map[string]bool{"": true, "none": true, "failed": true, "all": true}
	)
	cmd := &cobra.Command{
		Use:     "backfill PIPELINE --from DATE --to DATE",
		Aliases: []string{"backfills"},
		Short:   "Run a pipeline for a range of past dates; list, show and cancel backfills",
		Long: `Run a scheduled pipeline for a range of past logical dates: one run for each
time its schedule fires from --from to --to, both included. A date such as
2026-01-31 is read in the pipeline's timezone (--from is the start of that
day, --to includes all of it); an RFC 3339 time such as
2026-01-31T03:00:00Z is exact. --dry-run lists the dates and creates
nothing; it prints them in the local time zone, or UTC with --utc, as the
other commands do, and beside them in the pipeline's timezone when that
reads differently.

The runs queue behind the pipeline's max_active_runs and start oldest
first. A date that already has a run is left alone, unless --rerun failed
(run the failed tasks of a failed run again) or --rerun all (run every task
of a finished run again).

It then follows the backfill until every run has finished: on a terminal,
a progress bar with the runs by state and an estimate of the time left;
otherwise a line each time the counts change. Ctrl-C stops following and
leaves the backfill running. The exit status is 0 when every run
succeeded, 1 when some failed or the backfill was cancelled. --detach
returns as soon as the backfill is created.

A pipeline named list, show or cancel: put -- before its id.`,
		Example: `  sluice backfill daily_orders --from 2026-01-01 --to 2026-01-31 --dry-run
  sluice backfill daily_orders --from 2026-01-01 --to 2026-01-31
  sluice backfill daily_orders --from 2026-01-01 --to 2026-01-31 --rerun failed --detach
  sluice backfill list daily_orders
  sluice backfill show 7 --wait
  sluice backfill cancel 7`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				given := false
				for _, f := range []string{"from", "to", "rerun", "param", "dry-run", "detach"} {
					given = given || cmd.Flags().Changed(f)
				}
				if !given {
					return cmd.Help()
				}
				return exitWith(2, fmt.Errorf("which pipeline? sluice backfill PIPELINE --from DATE --to DATE\nRun '%s --help' for usage.", cmd.CommandPath()))
			}
			for flag, v := range map[string]string{"--from": req.From, "--to": req.To} {
				if err := checkBackfillBound(flag, v); err != nil {
					return err
				}
			}
			if !rerunOK[req.Rerun] {
				return exitWith(2, fmt.Errorf("--rerun %q: want failed or all (or none, the default)", req.Rerun))
			}
			given, err := paramFlags(params)
			if err != nil {
				return err
			}
			if len(given) > 0 {
				req.Params = given
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			pipeline, out := args[0], cmd.OutOrStdout()
			if dryRun {
				d, err := c.BackfillDates(cmd.Context(), pipeline, req)
				if err != nil {
					return r.fail(err)
				}
				if r.json {
					return printJSON(out, d)
				}
				showBackfillDates(out, d)
				return nil
			}
			b, err := c.Backfill(cmd.Context(), pipeline, req)
			if err != nil {
				return r.fail(err)
			}
			skipped := 0
			if b.Skipped != nil {
				skipped = *b.Skipped
			}
			if !r.json {
				fmt.Fprintf(out, "backfill %d of %s: %d run(s) queued", b.ID, b.Pipeline, b.Total)
				if skipped > 0 {
					fmt.Fprintf(out, ", %d date(s) skipped because they already have a run (--rerun failed|all runs them again)", skipped)
				}
				fmt.Fprintln(out)
			}
			if b.Total == 0 {
				if r.json {
					return printJSON(out, b)
				}
				fmt.Fprintln(out, "Nothing to run.")
				return nil
			}
			if detach {
				if r.json {
					return printJSON(out, b)
				}
				fmt.Fprintf(out, "Follow it with: sluice backfill show %d --wait\n", b.ID)
				return nil
			}
			if !r.json {
				fmt.Fprintln(out, "Following it until every run has finished; Ctrl-C stops following, not the backfill.")
			}
			ctx, stop := interrupted(cmd.Context())
			defer stop()
			return followBackfill(ctx, r, c, b.ID, out, b.Skipped)
		},
	}
	r.addFlags(cmd.PersistentFlags())
	f := cmd.Flags()
	f.StringVar(&req.From, "from", "", "first date: YYYY-MM-DD or YYYY-MM-DDTHH:MM in the pipeline's timezone, or an RFC 3339 time (required)")
	f.StringVar(&req.To, "to", "", "last date, included: YYYY-MM-DD (the whole day), YYYY-MM-DDTHH:MM, or an RFC 3339 time (required)")
	f.StringVar(&req.Rerun, "rerun", "", "a date that already has a run: failed reruns a failed run's failed tasks, all every task of a finished run (default: leave it alone)")
	f.StringArrayVarP(&params, "param", "p", nil, "a run param as name=value, for every run (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "list the logical dates and create nothing")
	f.BoolVar(&detach, "detach", false, "create the backfill and return without following it")
	cmd.AddCommand(backfillListCmd(r), backfillShowCmd(r), backfillCancelCmd(r))
	return cmd
}

// checkBackfillBound refuses a --from or --to that is neither a date nor
// an RFC 3339 time, before asking the server.
func checkBackfillBound(flag, s string) error {
	if s == "" {
		return exitWith(2, fmt.Errorf("%s is required: a date such as 2026-01-31, or an RFC 3339 time", flag))
	}
	for _, layout := range []string{time.DateOnly, "2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano} {
		if _, err := time.Parse(layout, s); err == nil {
			return nil
		}
	}
	return exitWith(2, fmt.Errorf("%s %q: want a date such as 2026-01-31, a time there such as 2026-01-31T06:00, or an RFC 3339 time such as 2026-01-31T03:00:00Z", flag, s))
}

// paramFlags reads -p name=value flags.
func paramFlags(params []string) (map[string]any, error) {
	given := map[string]any{}
	for _, kv := range params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, exitWith(2, fmt.Errorf("-p %q: want name=value", kv))
		}
		given[k] = v
	}
	return given, nil
}

func showBackfillDates(out io.Writer, d *api.BackfillDates) {
	if len(d.Dates) == 0 {
		fmt.Fprintf(out, "The schedule of %s does not fire in that range: a backfill would create no runs.\n", d.Pipeline)
		return
	}
	// The dates read as every command prints times (local, or UTC with
	// --utc); the pipeline's own zone, which its cron times are written
	// in, follows when it reads differently.
	loc, err := time.LoadLocation(d.Timezone)
	if err != nil {
		loc = time.UTC
	}
	own := func(at time.Time) string { return at.In(loc).Format("2006-01-02 15:04 Mon") }
	extra := false
	for _, at := range d.Dates {
		extra = extra || at.In(displayZone).Format("2006-01-02 15:04 Mon") != own(at)
	}
	header := []string{"LOGICAL DATE"}
	if extra {
		header = append(header, "IN "+loc.String()+" (THE SCHEDULE'S ZONE)")
	}
	t := newTable(out, header...)
	for _, at := range d.Dates {
		row := []string{at.In(displayZone).Format("2006-01-02 15:04 Mon")}
		if extra {
			row = append(row, own(at))
		}
		t.row(row...)
	}
	t.flush()
	fmt.Fprintf(out, "\n%d logical date(s), in %s. A backfill creates a run for each date that has none yet (see --rerun); nothing was created.\n", len(d.Dates), zoneName())
}

// followBackfill shows a backfill's progress until every run has
// finished, or ctx ends (Ctrl-C); the error carries the exit status.
// skipped, from the response that created the backfill, is kept in the
// final JSON.
func followBackfill(ctx context.Context, r *remote, c *client.Client, id int64, out io.Writer, skipped *int) error {
	p := newBackfillProgress(out, r.json)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := c.GetBackfill(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return p.stopped(id)
			}
			return r.fail(err)
		}
		p.show(b)
		if b.State != "running" {
			p.end()
			if r.json {
				b.Skipped = skipped
				if err := printJSON(out, b); err != nil {
					return err
				}
			} else {
				backfillSummary(out, b)
			}
			if b.State == "cancelled" || b.Runs["failed"] > 0 || b.Runs["cancelled"] > 0 {
				return exitWith(1, nil)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return p.stopped(id)
		case <-tick.C:
		}
	}
}

// backfillProgress draws a backfill's progress: a bar redrawn in place on
// a terminal, else a line each time the counts change.
type backfillProgress struct {
	out   io.Writer
	quiet bool
	tty   bool
	width int
	now   func() time.Time

	start     time.Time
	finished0 int
	last      string
	drawn     bool
}

func newBackfillProgress(out io.Writer, quiet bool) *backfillProgress {
	p := &backfillProgress{out: out, quiet: quiet, finished0: -1, width: 80, now: time.Now}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			p.width = w
		}
	}
	return p
}

// show draws the progress of b.
func (p *backfillProgress) show(b *api.Backfill) {
	finished := b.Runs["success"] + b.Runs["failed"] + b.Runs["cancelled"]
	if p.finished0 < 0 {
		p.start, p.finished0 = p.now(), finished
	}
	if p.quiet {
		return
	}
	counts := backfillCounts(b)
	if !p.tty {
		// One line per change of the counts: the ETA alone changing is
		// not news.
		if counts == p.last {
			return
		}
		p.last = counts
		line := fmt.Sprintf("%s  %d/%d finished  %s", p.now().In(displayZone).Format("15:04:05"), finished, b.Total, counts)
		if eta := p.eta(finished, b.Total); eta != "" {
			line += "  " + eta
		}
		fmt.Fprintln(p.out, line)
		return
	}
	line := fmt.Sprintf("%s %d/%d  %s", bar(finished, b.Total, 24), finished, b.Total, counts)
	if eta := p.eta(finished, b.Total); eta != "" {
		line += "  " + eta
	}
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:p.width-2]) + "…"
	}
	if line == p.last {
		return
	}
	p.last = line
	// \r returns to the start of the line; \x1b[K clears what a longer
	// previous line left.
	fmt.Fprint(p.out, "\r"+line+"\x1b[K")
	p.drawn = true
}

// eta estimates the time left from the rate at which runs finished since
// following began; empty until one has.
func (p *backfillProgress) eta(finished, total int) string {
	done := finished - p.finished0
	if done <= 0 || finished >= total {
		return ""
	}
	per := p.now().Sub(p.start) / time.Duration(done)
	left := per * time.Duration(total-finished)
	switch {
	case left < time.Minute:
		left = left.Round(time.Second)
	case left < time.Hour:
		left = left.Round(10 * time.Second)
	default:
		left = left.Round(time.Minute)
	}
	return "about " + left.String() + " left"
}

// end ends the bar's line.
func (p *backfillProgress) end() {
	if p.drawn {
		fmt.Fprintln(p.out)
		p.drawn = false
	}
}

// stopped says that following stopped and the backfill goes on.
func (p *backfillProgress) stopped(id int64) error {
	p.end()
	fmt.Fprintf(p.out, "Stopped following; backfill %d goes on.\n  see it:    sluice backfill show %d --wait\n  cancel it: sluice backfill cancel %d\n", id, id, id)
	return exitWith(130, nil)
}

// bar is a progress bar of width cells.
func bar(done, total, width int) string {
	n := width
	if total > 0 {
		n = done * width / total
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// backfillCounts lists a backfill's runs by state, leaving out states
// with none.
func backfillCounts(b *api.Backfill) string {
	var parts []string
	for _, s := range []string{"success", "failed", "cancelled", "running", "queued"} {
		if n := b.Runs[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "no runs"
	}
	return strings.Join(parts, ", ")
}

func backfillSummary(out io.Writer, b *api.Backfill) {
	switch {
	case b.State == "cancelled":
		fmt.Fprintf(out, "backfill %d of %s was cancelled: %s\n", b.ID, b.Pipeline, backfillCounts(b))
	case b.Runs["failed"] > 0:
		fmt.Fprintf(out, "backfill %d of %s finished with failures: %s\n", b.ID, b.Pipeline, backfillCounts(b))
	default:
		fmt.Fprintf(out, "backfill %d of %s succeeded: %s\n", b.ID, b.Pipeline, backfillCounts(b))
	}
	if b.Runs["failed"] > 0 {
		fmt.Fprintf(out, "Failed runs: sluice runs list --pipeline %s --state failed; run them again: sluice backfill %s --from %s --to %s --rerun failed\n",
			b.Pipeline, b.Pipeline, b.From.Format(time.RFC3339), b.To.Format(time.RFC3339))
	}
}

// backfillArg reads a backfill id argument.
func backfillArg(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, exitWith(2, fmt.Errorf("backfill %q: want a backfill id, a number from 'sluice backfill list PIPELINE'", s))
	}
	return id, nil
}

func backfillListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list PIPELINE",
		Short: "List a pipeline's backfills, newest first, with their progress",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, args []string) ([]api.Backfill, error) {
				return c.ListBackfills(ctx, args[0])
			},
			func(args []string) string {
				return fmt.Sprintf("No backfills of %s. Start one with 'sluice backfill %s --from DATE --to DATE'.", args[0], args[0])
			},
			func(out io.Writer, list []api.Backfill) {
				t := newTable(out, "BACKFILL", "STATE", "FINISHED", "RUNS", "FROM", "TO", "RERUN", "CREATED", "BY")
				for _, b := range list {
					finished := b.Runs["success"] + b.Runs["failed"] + b.Runs["cancelled"]
					t.row(strconv.FormatInt(b.ID, 10), b.State, fmt.Sprintf("%d/%d", finished, b.Total), backfillCounts(&b),
						rangeTime(b.From), rangeTime(b.To), b.Rerun, shortTime(b.CreatedAt), b.CreatedBy)
				}
				t.flush()
			}),
	}
}

// rangeTime shows a bound of a backfill's range in the local zone.
func rangeTime(t time.Time) string { return shortTime(t) }

func backfillShowCmd(r *remote) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a backfill's progress: its runs by state",
		Long: `Show a backfill's range and progress: its runs by state. With --wait,
follow it until every run has finished, as 'sluice backfill PIPELINE'
does; the exit status is then 0 when every run succeeded and 1 when not.`,
		Example: `  sluice backfill show 7
  sluice backfill show 7 --wait`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := backfillArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if wait {
				ctx, stop := interrupted(cmd.Context())
				defer stop()
				return followBackfill(ctx, r, c, id, out, nil)
			}
			b, err := c.GetBackfill(cmd.Context(), id)
			if err != nil {
				return r.fail(err)
			}
			if r.json {
				return printJSON(out, b)
			}
			finished := b.Runs["success"] + b.Runs["failed"] + b.Runs["cancelled"]
			kv := newTable(out, "backfill", fmt.Sprintf("%d of %s", b.ID, b.Pipeline))
			kv.row("state", b.State)
			kv.row("range", rangeTime(b.From)+" to "+rangeTime(b.To))
			kv.row("rerun", b.Rerun)
			kv.row("created", shortTime(b.CreatedAt)+" by "+b.CreatedBy)
			kv.row("progress", fmt.Sprintf("%s %d/%d finished", bar(finished, b.Total, 24), finished, b.Total))
			kv.row("runs", backfillCounts(b))
			kv.flush()
			if b.State == "running" {
				fmt.Fprintf(out, "\nFollow it: sluice backfill show %d --wait; cancel it: sluice backfill cancel %d\n", b.ID, b.ID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the backfill until every run has finished; exit 0 if all succeeded, 1 if not")
	return cmd
}

func backfillCancelCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a backfill: its queued and running runs are cancelled, finished ones stay",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := backfillArg(args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			b, err := c.CancelBackfill(cmd.Context(), id)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, b)
			}
			fmt.Fprintf(out, "cancelled backfill %d of %s: %s\n", b.ID, b.Pipeline, backfillCounts(b))
			return nil
		},
	}
}
