package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
)

func pipelinesStatusCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "status [ID...]",
		Short: "Show whether pipeline files loaded: live version, when, missing files, parse errors",
		Long: `Show, for each pipeline (or those named), what the server loaded from its
file: the file, the live version's hash and when it was loaded, whether the
pipeline is paused, whether its file has left the pipelines folder
(missing: no new runs, its history stays), and the last error of its
file with its position. A file with errors keeps its last good version
live until it is fixed; the errors are printed in full below the table.

The exit status is 1 when any pipeline shown has a file with errors, so a
deploy script can check that a change loaded:

  sluice pipelines status daily_orders || exit 1`,
		Example: `  sluice pipelines status
  sluice pipelines status daily_orders hourly_events`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			all, err := c.ListPipelines(cmd.Context())
			if err != nil {
				return r.fail(err)
			}
			list := all
			if len(args) > 0 {
				byID := map[string]api.Pipeline{}
				for _, p := range all {
					byID[p.ID] = p
				}
				list = nil
				var unknown []string
				for _, id := range args {
					p, ok := byID[id]
					if !ok {
						unknown = append(unknown, id)
						continue
					}
					list = append(list, p)
				}
				if len(unknown) > 0 {
					return exitWith(1, fmt.Errorf("no pipeline %s on %s ('sluice pipelines status' lists them all)", strings.Join(unknown, ", "), r.server))
				}
			}
			errs := 0
			for _, p := range list {
				if p.ParseError != nil {
					errs++
				}
			}
			out := cmd.OutOrStdout()
			if r.json {
				if err := printJSON(out, list); err != nil {
					return err
				}
			} else {
				showStatus(out, list)
			}
			if errs > 0 {
				return exitWith(1, nil)
			}
			return nil
		},
	}
}

func showStatus(out io.Writer, list []api.Pipeline) {
	if len(list) == 0 {
		fmt.Fprintln(out, "No pipelines yet: put pipeline files in the server's --pipelines folder, or upload one with 'sluice pipelines upload FILE'.")
		return
	}
	t := newTable(out, "PIPELINE", "STATUS", "VERSION", "LOADED", "FILE")
	for _, p := range list {
		var status []string
		switch {
		case p.ParseError != nil && p.VersionID == 0:
			status = append(status, "error, never loaded")
		case p.ParseError != nil:
			status = append(status, "error, old version live")
		case p.Missing:
			status = append(status, "missing")
		case len(p.AssetWarnings) > 0:
			status = append(status, "ok, with warnings")
		default:
			status = append(status, "ok")
		}
		if p.Missing && p.ParseError != nil {
			status = append(status, "missing")
		}
		if p.Paused {
			status = append(status, "paused")
		}
		loaded := "-"
		if p.VersionID != 0 {
			loaded = shortTime(p.LoadedAt)
		}
		file := p.File
		if file == "" {
			file = "(uploaded)"
		}
		t.row(p.ID, strings.Join(status, ", "), shortHash(p.Version), loaded, file)
	}
	t.flush()
	for _, p := range list {
		if p.Missing {
			fmt.Fprintf(out, "\n%s: its file %s has left the pipelines folder: it gets no new runs, and keeps its history until 'sluice pipelines delete %s'.\n", p.ID, p.File, p.ID)
		}
	}
	for _, p := range list {
		if p.ParseError == nil {
			continue
		}
		live := "it has no valid version yet, so it cannot run"
		if p.VersionID != 0 {
			live = "version " + shortHash(p.Version) + " stays live until it is fixed"
		}
		fmt.Fprintf(out, "\n%s: the file has errors (since %s); %s:\n", p.ID, shortTimePtr(p.ParseErrorAt), live)
		for line := range strings.SplitSeq(strings.TrimRight(*p.ParseError, "\n"), "\n") {
			fmt.Fprintln(out, "  "+line)
		}
	}
	for _, p := range list {
		if len(p.AssetWarnings) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s: warnings about its assets (it runs as it is):\n", p.ID)
		for _, w := range p.AssetWarnings {
			for line := range strings.SplitSeq(w, "\n") {
				fmt.Fprintln(out, "  "+line)
			}
		}
	}
}
