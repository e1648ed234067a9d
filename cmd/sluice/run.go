package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/worker"
)

func runCmd() *cobra.Command {
	var (
		params      []string
		home        string
		concurrency int
		quiet       bool
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run one pipeline now, in this terminal, and wait for it to finish",
		Long: `Run one pipeline file to the end in this terminal: each task's state as it
changes, its output lines, and a summary table at the end.

The run uses a private temporary store, so it works beside a running
server and leaves nothing behind; pass --home to keep its history.

Exit status: 0 when the run succeeded, 1 when it failed, 2 when the file
is invalid.`,
		Example: `  sluice run examples/hello.yaml
  sluice run examples/params.yaml -p region=us -p limit=10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipeline(cmd.OutOrStdout(), args[0], params, home, concurrency, quiet)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&params, "param", "p", nil, "a run param as name=value (repeatable)")
	f.StringVar(&home, "home", "", "keep the run's history in this data directory (default: a temporary one)")
	f.IntVar(&concurrency, "concurrency", 16, "tasks run at once")
	f.BoolVarP(&quiet, "quiet", "q", false, "show state changes only, not task output")
	return cmd
}

func runPipeline(out io.Writer, file string, rawParams []string, home string, concurrency int, quiet bool) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return exitWith(2, err)
	}
	p, err := pipeline.Parse(file, src)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitWith(2, nil)
	}
	given := map[string]any{}
	for _, kv := range rawParams {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return exitWith(2, fmt.Errorf("-p %q: want name=value", kv))
		}
		given[k] = v
	}
	bound, err := p.BindParams(given)
	if err != nil {
		return exitWith(2, err)
	}
	paramsJSON, _ := json.Marshal(bound)

	if home == "" {
		tmp, err := os.MkdirTemp("", "sluice-run-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		home = tmp
	}
	ctx, kill, stop := signals()
	defer stop()
	st, err := sqlite.Open(context.Background(), home, sqlite.Options{Holder: "sluice run " + file})
	if err != nil {
		return err
	}
	defer st.Close()
	abs, _ := filepath.Abs(file)
	saved, err := st.PipelineSave(context.Background(), catalog.SaveParams(p, src, abs))
	if err != nil {
		return err
	}
	run, _, err := st.RunCreate(context.Background(), &store.RunCreateParams{
		PipelineID: p.ID, VersionID: saved.VersionID, Key: fmt.Sprintf("manual__%s", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")),
		Kind: store.RunManual, LogicalDate: time.Now().UTC(), Params: paramsJSON,
	})
	if err != nil {
		return err
	}
	w, err := worker.New(worker.Config{
		Store: st, Concurrency: concurrency, Poll: 200 * time.Millisecond, DrainTimeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	wctx, wstop := context.WithCancel(context.Background())
	wdone := make(chan struct{})
	go func() { _ = w.Run(wctx); close(wdone) }()
	go func() {
		<-kill
		w.Kill()
	}()
	fmt.Fprintf(out, "sluice: running %s (version %s), run %d, %d tasks\n", p.ID, p.Hash()[:12], run.ID, len(p.Tasks))
	v := newRunView(out, st, run.ID, p, quiet)
	final, err := v.follow(ctx)
	wstop()
	<-wdone
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(out, "sluice: interrupted; the run did not finish")
			return exitWith(130, nil)
		}
		return err
	}
	v.summary()
	if final != sluice.RunSuccess {
		return exitWith(1, nil)
	}
	return nil
}
