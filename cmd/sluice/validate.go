package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
)

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check pipeline files and print every error with its position",
		Long: `Check pipeline files without running them. Directories are searched for
*.yaml and *.yml files. Every error of every file is printed as
FILE:LINE:COL: message, with a hint where one helps. Two files that
define the same pipeline id are an error too: a server loads only one.
The files are also checked together for their assets: a schedule that
waits for an asset no pipeline produces, and pipelines that start each
other through assets in a cycle, are printed as warnings.

Exit status: 0 when every file is valid (warnings or not), 2 when any
has an error.`,
		Example: `  sluice validate examples
  sluice validate pipelines/orders.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := pipelineFiles(args)
			if err != nil {
				return exitWith(2, err)
			}
			if len(files) == 0 {
				return exitWith(2, fmt.Errorf("no pipeline files (*.yaml, *.yml) in %v", args))
			}
			out := cmd.OutOrStdout()
			type checked struct {
				p   *pipeline.Pipeline
				src []byte
				err error
			}
			results := make([]checked, len(files))
			var defs []catalog.Definition
			for i, f := range files {
				src, err := pipeline.ReadFile(f)
				if err != nil {
					results[i].err = fmt.Errorf("%s: %v", f, err)
					continue
				}
				// The id the file defines, as the server's pipelines folder
				// sees it: a broken file stands for the id it names.
				d := catalog.Definition{File: f, ID: catalog.PeekID(src, f)}
				d.Line, d.Col = catalog.IDAt(src)
				results[i].src = src
				results[i].p, results[i].err = pipeline.Parse(f, src)
				if results[i].p != nil {
					d.ID = results[i].p.ID
				}
				defs = append(defs, d)
			}
			dups := map[string]*catalog.DuplicateError{}
			for _, e := range catalog.Duplicates(defs) {
				for _, d := range e.Defs {
					dups[d.File] = e
				}
			}
			bad := 0
			var linked []catalog.AssetFile
			for i, f := range files {
				p, err := results[i].p, results[i].err
				if err != nil {
					fmt.Fprintln(out, err)
				}
				if e := dups[f]; e != nil {
					fmt.Fprintln(out, e.In(f))
					err = e
				}
				if err != nil {
					bad++
					continue
				}
				sched := "manual only"
				if p.Schedule != "" {
					sched = "schedule " + p.Schedule + " (" + p.Timezone + ")"
				}
				if len(p.Assets) > 0 {
					on := "on assets " + strings.Join(p.Assets, ", ")
					if p.AssetCondition != nil {
						on = "on assets " + string(must(json.Marshal(p.AssetCondition)))
					}
					if p.Schedule != "" {
						sched += ", and " + on
					} else {
						sched = on
					}
				}
				for _, t := range p.Triggers {
					if t.Files != nil {
						// A pipeline run by files is not manual only.
						if sched == "manual only" {
							sched = "runs"
						} else {
							sched += ", runs"
						}
						sched += " for files " + path.Join(t.Files.Path, t.Files.Pattern)
					}
				}
				linked = append(linked, catalog.AssetFile{File: f, Src: results[i].src, Pipeline: p})
				fmt.Fprintf(out, "%s: ok: pipeline %s, %s, %s, version %s\n", f, p.ID, count(len(p.Tasks), "task"), sched, p.Hash()[:12])
				for _, w := range p.Warnings {
					fmt.Fprintln(out, w)
				}
			}
			for _, w := range catalog.CheckAssets(linked) {
				fmt.Fprintln(out, w)
			}
			if bad > 0 {
				return exitWith(2, fmt.Errorf("%d of %d files have errors", bad, len(files)))
			}
			return nil
		},
	}
}

// pipelineFiles expands directories into the pipeline files under them.
func pipelineFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		err = filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && catalog.IsPipelineFile(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// must returns v, for values whose error cannot happen.
func must[T any](v T, _ error) T { return v }
