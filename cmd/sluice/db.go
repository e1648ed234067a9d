package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/api"
)

func dbCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Look after the database: prune old runs now",
		Long: `Maintenance of a running sluice server's database, through its API.

The schedulers prune finished runs past their retention on their own, every
--retention-every (1h); 'sluice db cleanup' does it now, or with --dry-run
shows what would go.`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(dbCleanupCmd(r))
	return cmd
}

func dbCleanupCmd(r *remote) *cobra.Command {
	var (
		dryRun, yes bool
		retention   days
		pipeline    string
	)
	cmd := &cobra.Command{
		Use:   "cleanup [--dry-run] [--retention 30d] [--pipeline ID]",
		Short: "Prune finished runs past their retention, with their logs and outputs (admin)",
		Long: `Delete finished runs older than their pipeline's retention (its retention:
key, else the default) with their task instances, attempts, logs, outputs
and callbacks, as the schedulers' retention job does every --retention-every.
Runs still queued or running are never touched. Expired sessions and old
login failures go too.

The default retention is the schedulers' --retention (30d unless they were
started with another); --retention replaces it for this cleanup. Pipelines
that set retention: keep theirs.

--dry-run counts what would go and deletes nothing. Without it, cleanup
shows what will go and asks before deleting, unless --yes is given;
without a terminal to ask on, it needs --yes. It deletes in small batches,
so the server keeps running tasks meanwhile.`,
		Example: `  sluice db cleanup --dry-run
  sluice db cleanup --retention 7d --pipeline daily_orders --yes`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			req := api.CleanupRequest{DryRun: true, Pipeline: pipeline}
			if cmd.Flags().Changed("retention") {
				req.Retention = time.Duration(retention).String()
			}
			out := cmd.OutOrStdout()
			preview, err := c.Cleanup(cmd.Context(), req)
			if err != nil {
				return r.fail(err)
			}
			if dryRun {
				if r.json {
					return printJSON(out, preview)
				}
				printCleanup(out, preview, "would go")
				return nil
			}
			if preview.Rows["runs"] == 0 && !r.json {
				printCleanup(out, preview, "would go")
				return nil
			}
			if !yes {
				printCleanup(cmd.ErrOrStderr(), preview, "will go")
				if err := confirmYes(cmd, "Delete them for good?"); err != nil {
					return err
				}
			}
			req.DryRun = false
			total := &api.Cleanup{Rows: map[string]int64{}}
			for {
				res, err := c.Cleanup(cmd.Context(), req)
				if err != nil {
					return r.fail(err)
				}
				if len(total.Pipelines) == 0 {
					total.Pipelines = res.Pipelines
				}
				total.DefaultRetentionSeconds = res.DefaultRetentionSeconds
				for k, n := range res.Rows {
					total.Rows[k] += n
				}
				total.LogBytes += res.LogBytes
				if !res.More {
					break
				}
				if !r.json {
					fmt.Fprintf(cmd.ErrOrStderr(), "pruned %d runs so far; going on\n", total.Rows["runs"])
				}
			}
			if r.json {
				return printJSON(out, total)
			}
			printCleanup(out, total, "deleted")
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "show what would go; delete nothing")
	f.BoolVarP(&yes, "yes", "y", false, "delete without asking")
	f.Var(&retention, "retention", "keep the runs of pipelines that set no retention: this long (e.g. 30d, 12h; 0 keeps them); default the schedulers'")
	f.StringVar(&pipeline, "pipeline", "", "clean up only this pipeline")
	return cmd
}

// printCleanup shows a cleanup: each pipeline's runs that go, then the
// rows by kind.
func printCleanup(w io.Writer, c *api.Cleanup, verb string) {
	if c.Rows["runs"] == 0 {
		fmt.Fprintf(w, "No finished run is past its retention (default %s).\n", retentionWords(c.DefaultRetentionSeconds))
		return
	}
	t := newTable(w, "PIPELINE", "RETENTION", "RUNS", "OLDEST", "FINISHED BEFORE")
	for _, p := range c.Pipelines {
		t.row(p.ID, retentionWords(p.RetentionSeconds), fmt.Sprint(p.Runs), shortTimePtr(p.Oldest), shortTime(p.Cutoff))
	}
	t.flush()
	kinds := make([]string, 0, len(c.Rows))
	for k, n := range c.Rows {
		if n > 0 && k != "runs" {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	parts := []string{fmt.Sprintf("%d runs", c.Rows["runs"])}
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", c.Rows[k], strings.ReplaceAll(k, "_", " ")))
	}
	fmt.Fprintf(w, "\n%s %s; %.1f MiB of logs.\n", strings.Join(parts, ", "), verb, mb(c.LogBytes))
}

// retentionWords shows a retention in seconds as days when whole.
func retentionWords(secs float64) string {
	if secs == 0 {
		return "forever"
	}
	d := days(time.Duration(secs * float64(time.Second)))
	return d.String()
}

// confirmYes asks the person at the terminal a yes/no question.
func confirmYes(cmd *cobra.Command, question string) error {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return exitWith(2, errors.New("not deleting: confirm at a terminal, or pass --yes"))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", question)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return exitWith(1, errors.New("nothing deleted"))
	}
	return nil
}
