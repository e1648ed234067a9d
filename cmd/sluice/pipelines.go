package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

func pipelinesCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "pipelines",
		Aliases: []string{"pipeline"},
		Short:   "List, show, trigger, pause, upload and delete the pipelines of a running server",
		Long: `Work with the pipelines of a running sluice server, through its REST API.

A pipeline is a YAML file of tasks (see 'sluice run --help' to run one
file locally). A server loads the files of its --pipelines folder, and
admins may upload more with 'sluice pipelines upload'.

These commands talk to --server (default ` + defaultServer + `). On the
server's own machine they need no token: they use the admin token the
server keeps in its home directory. Elsewhere, pass an API token with
--token or $SLUICE_TOKEN ('sluice tokens create' makes one).`,
		Example: `  sluice pipelines list
  sluice pipelines show daily_orders
  sluice pipelines trigger daily_orders -p region=us --wait
  SLUICE_SERVER=https://sluice.internal SLUICE_TOKEN=slc_… sluice pipelines list`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(pipelinesListCmd(r), pipelinesShowCmd(r), pipelinesTriggerCmd(r), pipelinesPauseCmd(r, true), pipelinesPauseCmd(r, false),
		pipelinesUploadCmd(r), pipelinesDeleteCmd(r), pipelinesVersionsCmd(r), pipelinesDiffCmd(r), pipelinesStatusCmd(r))
	return cmd
}

func pipelinesListCmd(r *remote) *cobra.Command {
	var (
		f              client.PipelineFilter
		paused, active bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pipelines: schedule, next run, last run, live version, tags",
		Long: `List pipelines: schedule, next run, last run, live version and tags. The
filters combine: a pipeline is listed when it passes every one given.`,
		Example: `  sluice pipelines list
  sluice pipelines list --tag finance --state failed
  sluice pipelines list --search orders --active`,
		Args: usageArgs(cobra.NoArgs),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, _ []string) ([]api.Pipeline, error) {
				switch {
				case paused && active:
					return nil, exitWith(2, errors.New("--paused and --active exclude each other: give one, or neither for both"))
				case paused:
					f.Paused = &paused
				case active:
					f.Paused = new(bool)
				}
				return c.SearchPipelines(ctx, f)
			},
			func([]string) string {
				if f.Tags != nil || f.States != nil || f.Paused != nil || f.Search != "" {
					return "No pipeline matches these filters."
				}
				return "No pipelines yet: put pipeline files in the server's --pipelines folder, or upload one with 'sluice pipelines upload FILE'."
			},
			func(out io.Writer, list []api.Pipeline) {
				t := newTable(out, "ID", "SCHEDULE", "NEXT RUN", "LAST RUN", "VERSION", "NOTE", "TAGS")
				for _, p := range list {
					last := "-"
					if len(p.RecentRuns) > 0 {
						rr := p.RecentRuns[0]
						last = fmt.Sprintf("%s (#%d %s)", rr.State, rr.ID, shortTime(rr.LogicalDate))
					}
					var notes []string
					if p.Paused {
						notes = append(notes, "paused")
					}
					if p.ParseError != nil {
						notes = append(notes, "file has errors")
					}
					if p.Missing {
						notes = append(notes, "file missing")
					}
					sched := p.Schedule
					switch {
					case sched == "" && len(p.Events) > 0:
						sched = "on " + strings.Join(p.Events, ", ")
					case sched == "":
						sched = "manual"
					case p.Timezone != "" && p.Timezone != "UTC":
						sched += " (" + p.Timezone + ")"
					}
					t.row(p.ID, sched, shortTimePtr(p.NextRun), last, shortHash(p.Version), orDash(strings.Join(notes, ", ")), orDash(strings.Join(p.Tags, ",")))
				}
				t.flush()
			}),
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.Tags, "tag", nil, "only pipelines with any of these tags (repeat or separate with commas)")
	fl.StringSliceVar(&f.States, "state", nil, "only pipelines whose last run is in these states: queued, running, success, failed, cancelled, or none for no runs")
	fl.StringVar(&f.Search, "search", "", "only pipelines whose id or description contains this, ignoring case")
	fl.BoolVar(&paused, "paused", false, "only paused pipelines")
	fl.BoolVar(&active, "active", false, "only pipelines that are not paused")
	commandLineOnly(cmd, "tag", "state", "search", "paused", "active")
	return cmd
}

func pipelinesShowCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a pipeline: schedule, params, tasks and recent runs",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			p, err := c.GetPipeline(cmd.Context(), args[0])
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, p)
			}
			showPipeline(out, p)
			return nil
		},
	}
}

func showPipeline(out io.Writer, p *api.PipelineDetail) {
	kv := newTable(out, "pipeline", p.ID)
	if p.Description != "" {
		kv.row("description", p.Description)
	}
	sched := "manual only (trigger it with 'sluice pipelines trigger " + p.ID + "')"
	if len(p.Events) > 0 {
		sched = "on " + strings.Join(p.Events, ", ")
	}
	if p.Schedule != "" {
		sched = p.Schedule + " (" + p.Timezone + ")"
		switch {
		case p.Paused:
			sched += ", paused"
		case p.NextRun != nil:
			sched += ", next run " + shortTime(*p.NextRun)
		}
		if len(p.Events) > 0 {
			sched += "; also on " + strings.Join(p.Events, ", ")
		}
	}
	kv.row("schedule", sched)
	for _, ft := range p.FileTriggers {
		s := "runs for files " + path.Join(ft.Path, ft.Pattern)
		if ft.Problem != "" {
			s += " — blocked: " + ft.Problem
		}
		kv.row("trigger", s)
	}
	if p.VersionID != 0 {
		kv.row("version", fmt.Sprintf("%s (id %d, loaded %s)", shortHash(p.Version), p.VersionID, shortTime(p.LoadedAt)))
	}
	file := p.File
	if file == "" {
		file = "uploaded"
	}
	kv.row("file", file)
	names := make([]string, 0, len(p.Params))
	for n := range p.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		prm := p.Params[n]
		s := n + ": " + prm.Type
		if len(prm.Values) > 0 {
			s += " [" + strings.Join(prm.Values, ", ") + "]"
		}
		if prm.Default != nil {
			s += fmt.Sprintf(" = %v", prm.Default)
		}
		if prm.Required {
			s += " (required)"
		}
		if prm.Description != "" {
			s += " — " + prm.Description
		}
		label := ""
		if i == 0 {
			label = "params"
		}
		kv.row(label, s)
	}
	kv.flush()
	if p.ParseError != nil {
		fmt.Fprintf(out, "\nThe pipeline's file has errors (since %s); the version above stays live until it is fixed:\n%s\n", shortTimePtr(p.ParseErrorAt), *p.ParseError)
	}
	if len(p.Tasks) > 0 {
		fmt.Fprintln(out)
		t := newTable(out, "TASK", "KIND", "DEPENDS ON", "RETRIES", "TIMEOUT", "WHAT")
		for _, task := range p.Tasks {
			what := task.Run
			if len(task.Command) > 0 {
				what = strings.Join(task.Command, " ")
			}
			what = strings.TrimSpace(strings.SplitN(what, "\n", 2)[0])
			if len(what) > 50 {
				what = what[:49] + "…"
			}
			timeout := "-"
			if task.Timeout > 0 {
				timeout = task.Timeout.String()
			}
			t.row(task.ID, string(task.Kind), orDash(strings.Join(task.DependsOn, ", ")), fmt.Sprint(task.Retries), timeout, orDash(what))
		}
		t.flush()
	}
	if len(p.RecentRuns) > 0 {
		fmt.Fprintln(out)
		t := newTable(out, "RUN", "STATE", "KIND", "LOGICAL DATE")
		for _, rr := range p.RecentRuns {
			t.row(fmt.Sprint(rr.ID), rr.State, rr.Kind, shortTime(rr.LogicalDate))
		}
		t.flush()
	}
}

func pipelinesTriggerCmd(r *remote) *cobra.Command {
	var (
		params []string
		wait   bool
	)
	cmd := &cobra.Command{
		Use:   "trigger ID",
		Short: "Start a run of a pipeline now, with params",
		Long: `Start a run of a pipeline's live version now, on the server's workers.
Params are given as -p name=value and checked against the pipeline's
param types; 'sluice pipelines show ID' lists them.

It prints the run's id; follow the run with 'sluice runs show RUN', or pass
--wait to follow it here until it finishes: each task's state changes
and log lines, and a mapped task's items, as 'sluice run' prints them.
With --wait the exit status
is 0 when the run succeeded and 1 when it failed or was cancelled, as with
'sluice run'.`,
		Example: `  sluice pipelines trigger daily_orders
  sluice pipelines trigger daily_orders -p region=us -p limit=10 --wait`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := map[string]any{}
			for _, kv := range params {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return exitWith(2, fmt.Errorf("-p %q: want name=value", kv))
				}
				given[k] = v
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			run, err := c.Trigger(cmd.Context(), args[0], given)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if !wait {
				if r.json {
					return printJSON(out, run)
				}
				fmt.Fprintf(out, "started run %d of %s\n", run.ID, run.Pipeline)
				fmt.Fprintf(cmd.ErrOrStderr(), "Follow it with: sluice runs show %d\n", run.ID)
				return nil
			}
			if !r.json {
				fmt.Fprintf(out, "started run %d of %s; following it until it finishes (Ctrl-C stops following, not the run)\n", run.ID, run.Pipeline)
			}
			ctx, stop := interrupted(cmd.Context())
			defer stop()
			return followRun(ctx, r, c, run.ID, out)
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "a run param as name=value (repeatable)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the run until it finishes; exit 0 if it succeeded, 1 if not")
	return cmd
}

func pipelinesPauseCmd(r *remote, pause bool) *cobra.Command {
	use, short := "pause ID", "Pause a pipeline's schedule: no new scheduled runs until unpaused"
	if !pause {
		use, short = "unpause ID", "Resume a paused pipeline's schedule"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  short + ".\nRuns already started go on, and the pipeline can still be triggered by hand.",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var p *api.Pipeline
			if pause {
				p, err = c.Pause(cmd.Context(), args[0])
			} else {
				p, err = c.Unpause(cmd.Context(), args[0])
			}
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, p)
			}
			if pause {
				fmt.Fprintf(out, "paused %s: no scheduled runs until 'sluice pipelines unpause %s'\n", p.ID, p.ID)
			} else {
				next := "no schedule"
				if p.NextRun != nil {
					next = "next run " + shortTime(*p.NextRun)
				}
				fmt.Fprintf(out, "unpaused %s: %s\n", p.ID, next)
			}
			return nil
		},
	}
}

func pipelinesUploadCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "upload FILE",
		Short: "Upload a pipeline file to the server (admin)",
		Long: `Upload a pipeline file to the server, as a new version of its pipeline.
The server checks the file as 'sluice validate' does and refuses a file
with errors, printing each with its position; nothing is stored then.
A pipeline that comes from a file in the server's --pipelines folder
cannot be replaced by an upload: change that file instead.`,
		Example: `  sluice pipelines upload orders.yaml`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := os.ReadFile(args[0])
			if err != nil {
				return exitWith(2, err)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.Upload(cmd.Context(), filepath.Base(args[0]), src)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, res)
			}
			what := "a new version, now live"
			switch {
			case !res.Created && res.Changed:
				what = "an earlier version, live again"
			case !res.Created:
				what = "unchanged: this version was already live"
			}
			fmt.Fprintf(out, "uploaded %s: pipeline %s, version %s (%s)\n", filepath.Base(args[0]), res.Pipeline, shortHash(res.Version), what)
			return nil
		},
	}
}

func pipelinesDeleteCmd(r *remote) *cobra.Command {
	var yes, andFile bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a pipeline with all of its versions, runs and logs (admin)",
		Long: `Delete a pipeline with all of its versions, runs, task logs and outputs.
This cannot be undone. It asks you to type the pipeline's id to confirm,
unless --yes is given; without a terminal to ask on, it needs --yes.

A pipeline whose file is still in the server's --pipelines folder is not
deleted, since the next scan would bring it back: pass --and-file to
delete the file too, or remove it first (the pipeline is then marked
missing and keeps its history until you delete it).`,
		Example: `  sluice pipelines delete old_pipeline
  sluice pipelines delete old_pipeline --and-file --yes`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !yes {
				if err := confirm(cmd, id); err != nil {
					return err
				}
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			del := c.DeletePipeline
			if andFile {
				del = c.DeletePipelineAndFile
			}
			if err := del(cmd.Context(), id); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted pipeline %s\n", id)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	cmd.Flags().BoolVar(&andFile, "and-file", false, "also delete the pipeline's file from the server's pipelines folder")
	return cmd
}

// confirm asks the person at the terminal to type id.
func confirm(cmd *cobra.Command, id string) error {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return exitWith(2, fmt.Errorf("not deleting %s: confirm by typing its id at a terminal, or pass --yes", id))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "This deletes pipeline %s with all of its versions, runs and logs, for good.\nType its id to confirm: ", id)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != id {
		return exitWith(1, fmt.Errorf("not deleted: %q is not %q", strings.TrimSpace(line), id))
	}
	return nil
}

func pipelinesVersionsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "versions ID",
		Short: "List a pipeline's versions, newest first",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			list, err := c.Versions(cmd.Context(), args[0])
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, list)
			}
			t := newTable(out, "ID", "HASH", "CREATED", "FILE", "")
			for _, v := range list {
				live := ""
				if v.Live {
					live = "live"
				}
				file := v.File
				if file == "" {
					file = "uploaded"
				}
				t.row(fmt.Sprint(v.ID), shortHash(v.Hash), shortTime(v.CreatedAt), file, live)
			}
			t.flush()
			return nil
		},
	}
}

func pipelinesDiffCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "diff ID [FROM [TO]]",
		Short: "Show what changed between two versions of a pipeline",
		Long: `Show the unified diff between two versions of a pipeline's file. A
version is a version id, "live", or at least 6 hex digits of its hash
('sluice pipelines versions ID' lists them). Without FROM, the version
before TO; without TO, the live version.`,
		Example: `  sluice pipelines diff daily_orders
  sluice pipelines diff daily_orders 3 live`,
		Args: usageArgs(cobra.RangeArgs(1, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, to := "", ""
			if len(args) > 1 {
				from = args[1]
			}
			if len(args) > 2 {
				to = args[2]
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			d, err := c.Diff(cmd.Context(), args[0], from, to)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, d)
			}
			if d.Diff == "" {
				fmt.Fprintf(out, "versions %d and %d have the same source\n", d.From.ID, d.To.ID)
				return nil
			}
			fmt.Fprint(out, d.Diff)
			return nil
		},
	}
}
