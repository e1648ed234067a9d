package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/doctor"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
)

func doctorCmd() *cobra.Command {
	var (
		labels                    []string
		pipelines                 string
		db                        string
		all                       bool
		engine                    string
		kubeconfig, kubeNamespace string
		pull                      bool
	)
	cmd := &cobra.Command{
		Use:   "doctor [FILE|DIR|PIPELINE...]",
		Short: "Check that this machine has what the tasks of pipelines need",
		Long: `Check, on the machine it runs on, what each task needs: the program a
command: starts is on the PATH, an interpreter: exists and runs, the
workdir exists, a container task's engine answers and its image is
there (or, with --pull, can be pulled), and (with --labels) the labels a
task requires are ones this worker has. It prints a table and exits 1 when something is wrong.

The pipelines come from files and folders given as arguments (default the
--pipelines folder), or, with --db, from the database: pipeline ids as
arguments, or every pipeline. Workers run the same checks when they start
and log what they find.`,
		Example: `  sluice doctor examples
  sluice doctor pipelines/etl.yaml --labels gpu,python3.12
  sluice doctor --db postgres://sluice@db/sluice daily_orders`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := context.Background()
			type source struct {
				p    *pipeline.Pipeline
				file string
			}
			var sources []source
			if db != "" {
				st, err := server.OpenStore(ctx, &server.Config{DB: db})
				if err != nil {
					return err
				}
				defer st.Close()
				loaded, err := pipelinesFromStore(ctx, st, args)
				if err != nil {
					return err
				}
				for _, l := range loaded {
					sources = append(sources, source{l.p, l.file})
				}
			} else {
				if len(args) == 0 {
					args = []string{pipelines}
				}
				files, err := pipelineFiles(args)
				if err != nil {
					return exitWith(2, err)
				}
				for _, f := range files {
					src, err := pipeline.ReadFile(f)
					if err != nil {
						return exitWith(2, err)
					}
					p, err := pipeline.Parse(f, src)
					if err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
						return exitWith(2, fmt.Errorf("%s is not a valid pipeline file: run sluice validate", f))
					}
					abs, _ := filepath.Abs(f)
					sources = append(sources, source{p, abs})
				}
			}
			eng, err := docker.Open(engine)
			if err != nil {
				return exitWith(2, err)
			}
			defer eng.Close()
			var cluster *kube.Client
			noCluster := ""
			if kubeconfig != "none" {
				cluster, err = kube.Open(kube.Config{Kubeconfig: kubeconfig, Namespace: kubeNamespace})
				switch {
				case errors.Is(err, kube.ErrNotConfigured):
					noCluster = "no Kubernetes cluster configured: set --kubeconfig or $KUBECONFIG (in a Pod, its service account is used)"
				case err != nil:
					return exitWith(2, err)
				default:
					defer cluster.Close()
				}
			}
			// The table holds the problems (every check with --all); when
			// there is nothing to show, the summary line is the whole
			// answer, as from any tool that found nothing wrong.
			var rows []doctor.Check
			problems, checks := 0, 0
			check := doctor.NewChecker(doctor.Options{Labels: labels, CheckLabels: cmd.Flags().Changed("labels"), Engine: eng, Kube: cluster, NoCluster: noCluster, Pull: pull})
			for _, s := range sources {
				for _, c := range check.Pipeline(ctx, s.p, s.file) {
					checks++
					if !c.OK {
						problems++
					}
					if !c.OK || all {
						rows = append(rows, c)
					}
				}
			}
			out := cmd.OutOrStdout()
			if len(rows) > 0 {
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PIPELINE\tTASK\tCHECK\tSTATUS\tDETAIL")
				for _, c := range rows {
					status := "ok"
					if !c.OK {
						status = "PROBLEM"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Pipeline, c.Task, c.What, status, c.Detail)
				}
				tw.Flush()
				fmt.Fprintln(out)
			}
			if problems == 0 {
				fmt.Fprintf(out, "ok: %d pipeline(s), %d check(s), no problem\n", len(sources), checks)
				return nil
			}
			fmt.Fprintf(out, "%d pipeline(s), %d check(s), %d problem(s)\n", len(sources), checks, problems)
			if problems > 0 {
				return exitWith(1, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&labels, "labels", nil, "the labels of the worker that would run the tasks; checks tasks' requires: against them")
	f.StringVar(&pipelines, "pipelines", "pipelines", "folder of pipeline files to check when no file is given")
	f.StringVar(&db, "db", "", "check the live pipelines of this database (a postgres:// URL) instead of files")
	f.BoolVar(&all, "all", false, "show every check, not only the problems")
	f.StringVar(&engine, "container-host", docker.HostFromEnv(), containerHostHelp)
	f.StringVar(&kubeconfig, "kubeconfig", "", kubeconfigHelp)
	f.StringVar(&kubeNamespace, "kube-namespace", "", kubeNamespaceHelp)
	f.BoolVar(&pull, "pull", false, "pull the images of container tasks the engine lacks, to check they can be pulled")
	return cmd
}

type storedPipeline struct {
	p    *pipeline.Pipeline
	file string
}

// pipelinesFromStore loads the live versions of the named pipelines, or of
// all of them.
func pipelinesFromStore(ctx context.Context, st store.Store, ids []string) ([]storedPipeline, error) {
	var list []*store.Pipeline
	if len(ids) == 0 {
		all, err := st.PipelineList(ctx)
		if err != nil {
			return nil, err
		}
		list = all
	} else {
		for _, id := range ids {
			p, err := st.PipelineGet(ctx, id)
			if err != nil {
				return nil, err
			}
			list = append(list, p)
		}
	}
	var out []storedPipeline
	for _, sp := range list {
		if sp.VersionID == 0 {
			continue
		}
		v, err := st.VersionGet(ctx, sp.VersionID)
		if err != nil {
			return nil, err
		}
		p, err := pipeline.Decode(v.Spec)
		if err != nil {
			return nil, err
		}
		out = append(out, storedPipeline{p, v.File})
	}
	return out, nil
}
