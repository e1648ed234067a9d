package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

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
FILE:LINE:COL: message, with a hint where one helps.

Exit status: 0 when every file is valid, 2 when any has an error.`,
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
			bad := 0
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					fmt.Fprintf(out, "%s: %v\n", f, err)
					bad++
					continue
				}
				p, err := pipeline.Parse(f, src)
				if err != nil {
					fmt.Fprintln(out, err)
					bad++
					continue
				}
				sched := "manual only"
				if p.Schedule != "" {
					sched = "schedule " + p.Schedule + " (" + p.Timezone + ")"
				}
				fmt.Fprintf(out, "%s: ok: pipeline %s, %s, %s, version %s\n", f, p.ID, count(len(p.Tasks), "task"), sched, p.Hash()[:12])
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
