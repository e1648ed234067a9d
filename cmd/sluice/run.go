package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/worker"
)

// runOptions are the flags of `sluice run`.
type runOptions struct {
	params                    []string
	home                      string
	concurrency               int
	quiet                     bool
	secrets                   []string
	pools                     []string
	killGrace                 time.Duration
	engine                    string
	kubeconfig, kubeNamespace string
}

func runCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run one pipeline now, in this terminal, and wait for it to finish",
		Long: `Run one pipeline file to the end in this terminal: each task's state as it
changes, its output lines (marked as 'sluice logs' marks them: | stdout,
! stderr, # sluice's notes), and a summary table at the end.

The run uses a private temporary store, so it works beside a running
server and leaves nothing behind; pass --home to keep its history. The
other pipeline files in the same folder are loaded too, so pipeline: tasks
and wait_for: pipeline sensors find the pipelines they name. Secrets come
from --secret, and pools a task names are created with --pool (or with one
slot).

Exit status: 0 when the run succeeded, 1 when it failed, 2 when the file
is invalid.`,
		Example: `  sluice run examples/hello.yaml
  sluice run examples/params.yaml -p region=us -p limit=10
  sluice run pipelines/load.yaml --secret DB_PASSWORD --pool warehouse=2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := positive(cmd.Flags(), "concurrency", "kill-grace"); err != nil {
				return err
			}
			return runPipeline(cmd.OutOrStdout(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.params, "param", "p", nil, "a run param as name=value (repeatable)")
	f.StringVar(&o.home, "home", "", "keep the run's history in this data directory (default: a temporary one)")
	f.IntVar(&o.concurrency, "concurrency", 16, "tasks run at once")
	f.DurationVar(&o.killGrace, "kill-grace", server.DefaultKillGrace, "time between SIGTERM and SIGKILL when a task is stopped (timeout, Ctrl-C)")
	f.StringVar(&o.engine, "container-host", docker.HostFromEnv(), containerHostHelp)
	f.StringVar(&o.kubeconfig, "kubeconfig", "", kubeconfigHelp)
	f.StringVar(&o.kubeNamespace, "kube-namespace", "", kubeNamespaceHelp)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show only what did not go to plan (retries, failures, skips) and the run's result: no task output, no table")
	f.StringArrayVar(&o.secrets, "secret", nil, "a secret as NAME=VALUE, or NAME to take the value of the environment variable NAME (repeatable)")
	f.StringArrayVar(&o.pools, "pool", nil, "a pool as NAME=SLOTS (repeatable); pools the pipeline names otherwise get one slot")
	return cmd
}

func runPipeline(out io.Writer, file string, o runOptions) error {
	src, err := pipeline.ReadFile(file)
	if err != nil {
		return exitWith(2, err)
	}
	p, err := pipeline.Parse(file, src)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitWith(2, nil)
	}
	given := map[string]any{}
	for _, kv := range o.params {
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
	if err := clusterFor(p, o.kubeconfig, o.kubeNamespace); err != nil {
		return err
	}
	if err := engineFor(p, o.engine); err != nil {
		return exitWith(2, err)
	}

	home := o.home
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
	bg := context.Background()
	st, err := sqlite.Open(bg, home, sqlite.Options{Holder: "sluice run " + file})
	if err != nil {
		return err
	}
	defer st.Close()
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The folder's other pipelines, for pipeline: tasks and sensors.
	if _, err := catalog.NewLoader(st, filepath.Dir(file), quietLog).Sync(bg); err != nil {
		return err
	}
	abs, _ := filepath.Abs(file)
	saved, err := st.PipelineSave(bg, catalog.SaveParams(p, src, abs))
	if err != nil {
		return err
	}
	box, err := runSecrets(bg, st, o.secrets)
	if err != nil {
		return exitWith(2, err)
	}
	if err := runPools(bg, out, st, p, o.pools); err != nil {
		return exitWith(2, err)
	}
	run, _, err := st.RunCreate(bg, &store.RunCreateParams{
		PipelineID: p.ID, VersionID: saved.VersionID, Key: fmt.Sprintf("manual__%s", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")),
		Kind: store.RunManual, LogicalDate: time.Now().UTC(), Params: paramsJSON,
	})
	if err != nil {
		return err
	}
	w, err := worker.New(worker.Config{
		Store: st, Concurrency: o.concurrency, Poll: 200 * time.Millisecond, DrainTimeout: time.Second,
		KillGrace: o.killGrace, Logger: quietLog, Secrets: box, ContainerHost: o.engine,
		Kubeconfig: o.kubeconfig, KubeNamespace: o.kubeNamespace,
	})
	if err != nil {
		return err
	}
	wctx, wstop := context.WithCancel(bg)
	wdone := make(chan struct{})
	go func() { _ = w.Run(wctx); close(wdone) }()
	go func() {
		<-kill
		w.Kill()
	}()
	fmt.Fprintf(out, "sluice: running %s (version %s), run %d, %s\n", p.ID, p.Hash()[:12], run.ID, count(len(p.Tasks), "task"))
	v := newRunView(out, st, run.ID, p, o.quiet)
	final, err := v.follow(ctx)
	if err == nil {
		v.waitCallbacks(ctx)
	}
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

// runSecrets stores --secret values, encrypted with a key that lives as
// long as the run.
func runSecrets(ctx context.Context, st store.Store, specs []string) (*secret.Box, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	for _, spec := range specs {
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			v, set := os.LookupEnv(name)
			if !set {
				return nil, fmt.Errorf("--secret %s: no value given and no environment variable %s", name, name)
			}
			value = v
		}
		if err := st.SecretSet(ctx, name, box.Seal(name, []byte(value))); err != nil {
			return nil, err
		}
	}
	return box, nil
}

// runPools creates --pool pools, and the pipeline's other pools with one
// slot, so no task waits for a pool this temporary store lacks.
func runPools(ctx context.Context, out io.Writer, st store.Store, p *pipeline.Pipeline, specs []string) error {
	given := map[string]bool{}
	for _, spec := range specs {
		name, n, ok := strings.Cut(spec, "=")
		slots, err := strconv.Atoi(n)
		if !ok || err != nil || slots < 0 {
			return fmt.Errorf("--pool %q: want NAME=SLOTS", spec)
		}
		if err := st.PoolSet(ctx, &store.Pool{Name: name, Slots: slots}); err != nil {
			return err
		}
		given[name] = true
	}
	need := map[string]int{} // the most slots one task of the pool takes
	for _, t := range p.Tasks {
		if t.Pool != "" && !given[t.Pool] {
			need[t.Pool] = max(need[t.Pool], t.PoolSlots)
		}
	}
	missing := make([]string, 0, len(need))
	for name := range need {
		missing = append(missing, name)
	}
	sort.Strings(missing)
	for _, name := range missing {
		fmt.Fprintf(out, "sluice: pool %s gets %d slot(s) in this run (set it with --pool %s=N)\n", name, need[name], name)
		if err := st.PoolSet(ctx, &store.Pool{Name: name, Slots: need[name]}); err != nil {
			return err
		}
	}
	return nil
}

// engineFor checks, for a pipeline with container tasks, that the engine
// at host answers: without one those tasks would wait for a worker that
// never comes.
func engineFor(p *pipeline.Pipeline, host string) error {
	var tasks []string
	for _, id := range p.TopoOrder() {
		if t := p.Tasks[id]; t.Kind == pipeline.KindContainer && t.Container.Kubernetes == nil {
			tasks = append(tasks, id)
		}
	}
	if len(tasks) == 0 {
		return nil
	}
	e, err := docker.Open(host)
	if err == nil {
		defer e.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = e.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("container tasks (%s) cannot run: %v; start Docker (or podman system service), or point --container-host or $DOCKER_HOST at it", strings.Join(tasks, ", "), err)
	}
	return nil
}

// clusterFor checks, for a pipeline with Kubernetes pod tasks, that the
// cluster answers: without one those tasks would wait for a worker that
// never comes.
func clusterFor(p *pipeline.Pipeline, kubeconfig, namespace string) error {
	var tasks []string
	for _, id := range p.TopoOrder() {
		if t := p.Tasks[id]; t.Kind == pipeline.KindContainer && t.Container.Kubernetes != nil {
			tasks = append(tasks, id)
		}
	}
	if len(tasks) == 0 {
		return nil
	}
	c, err := kube.Open(kube.Config{Kubeconfig: kubeconfig, Namespace: namespace})
	if err == nil {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = c.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("Kubernetes pod tasks (%s) cannot run: %v; point --kubeconfig or $KUBECONFIG at a cluster", strings.Join(tasks, ", "), err)
	}
	return nil
}
