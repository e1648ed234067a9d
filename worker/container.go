package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// The labels of every container a worker starts. They name the attempt
// and its lease, so any worker can tell a container whose attempt is over
// (its worker was killed) and remove it.
const (
	labelAttempt  = "dev.sluice.attempt"
	labelLease    = "dev.sluice.lease"
	labelWorker   = "dev.sluice.worker"
	labelRun      = "dev.sluice.run"
	labelTask     = "dev.sluice.task"
	labelPipeline = "dev.sluice.pipeline"
)

// connectEngine opens the container engine at Config.ContainerHost. A
// worker that reaches one advertises pipeline.ContainerLabel, so container
// tasks come to it; one that does not runs every other task as before.
func (w *Worker) connectEngine(ctx context.Context) {
	host := w.cfg.ContainerHost
	if host == "" || host == "none" {
		return
	}
	e, err := docker.Open(host)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = e.Ping(pctx)
		cancel()
		if err != nil {
			e.Close()
		}
	}
	if err != nil {
		w.log.Info("no container engine: container tasks will not run on this worker", "container_host", host, "err", err)
		return
	}
	w.engine = e
	if !hasLabel(w.labels, pipeline.ContainerLabel) {
		w.labels = append(w.labels, pipeline.ContainerLabel)
	}
	w.log.Info("container engine reached; this worker runs container tasks", "container_host", host)
}

func hasLabel(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}

// sweepContainers removes, every interval until ctx ends, the containers
// sluice started whose attempts are over: those of a worker that was
// killed before it could remove them. It checks at once, then every
// interval, so a dead worker's containers go soon after its leases expire.
func (w *Worker) sweepContainers(ctx context.Context, every time.Duration) {
	if w.engine == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep removes the labelled containers of this installation's attempts
// that are no longer running under a live lease, sparing this worker's
// own (see over).
func (w *Worker) sweep(ctx context.Context) {
	list, err := w.engine.Containers(ctx, labelAttempt)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("cannot list containers to remove those left behind", "err", err)
		}
		return
	}
	items := make([]leftover, 0, len(list))
	for i, ctr := range list {
		items = append(items, leftover{i: i, attempt: ctr.Labels[labelAttempt], run: ctr.Labels[labelRun], lease: ctr.Labels[labelLease]})
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 16)
	for _, it := range w.over(ctx, items) {
		ctr := list[it.i]
		w.log.Info("removing a container whose attempt is over (its worker stopped without removing it)",
			"container", ctr.Name, "attempt", it.attempt, "run", it.run, "task", ctr.Labels[labelTask], "worker_was", ctr.Labels[labelWorker])
		// Each may take the kill grace to stop: remove them side by side.
		sem <- struct{}{}
		wg.Add(1)
		go func(ctr docker.Container) {
			defer func() { <-sem; wg.Done() }()
			if err := w.engine.Remove(ctx, ctr.ID, w.cfg.KillGrace); err != nil && ctx.Err() == nil {
				w.log.Warn("cannot remove a container left behind", "container", ctr.Name, "err", err)
			}
		}(ctr)
	}
}

// leftover is something sluice made for an attempt outside the database
// (a container, a Pod, a Secret), by the labels it carries.
type leftover struct {
	i                   int // its index in the caller's list
	attempt, run, lease string
}

// over returns the leftovers of this installation's attempts that are no
// longer running under a live lease, sparing this worker's own. One is
// this installation's when the store has an attempt of its id with its
// lease token (random, 63 bits): those of another sluice on the same
// engine or cluster, or of a run retention has pruned, are left alone.
// When the database cannot be read it returns nothing.
func (w *Worker) over(ctx context.Context, items []leftover) []leftover {
	type labelled struct {
		leftover
		id, run, token int64
	}
	var (
		candidates []labelled
		ids        []int64
	)
	for _, it := range items {
		id, err1 := strconv.ParseInt(it.attempt, 10, 64)
		run, err2 := strconv.ParseInt(it.run, 10, 64)
		token, err3 := strconv.ParseInt(it.lease, 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue // not one of ours to judge
		}
		w.mu.Lock()
		_, mine := w.running[id]
		w.mu.Unlock()
		if mine {
			continue
		}
		candidates = append(candidates, labelled{it, id, run, token})
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	// The attempts by their ids, not every attempt of their runs: a
	// run mapped over 100,000 items had each worker read all of its
	// attempts on every sweep.
	list, err := w.st.AttemptListByID(ctx, ids)
	if err != nil {
		return nil // decide when the database answers
	}
	now := w.clock.Now()
	byID := make(map[int64]*store.Attempt, len(list))
	for _, at := range list {
		byID[at.ID] = at
	}
	var out []leftover
	for _, c := range candidates {
		at := byID[c.id]
		if at == nil || at.RunID != c.run || at.Token != c.token {
			continue // another installation's, or of a run retention pruned
		}
		if at.State == sluice.AttemptRunning && at.LeaseExpiresAt.After(now) {
			continue // another live worker's
		}
		out = append(out, c.leftover)
	}
	return out
}

// runContainer runs one attempt of a container task.
func (w *Worker) runContainer(a *attempt, x *exprContext, v *version, task *pipeline.Task, secrets []openedSecret) *executor.Result {
	c, spec := a.claim, task.Container
	if w.engine == nil {
		return failed("this worker reaches no container engine: start it with --container-host (or DOCKER_HOST) pointing at Docker or Podman")
	}
	image, err := x.render(spec.Image)
	if err != nil {
		return failed("container image: " + err.Error())
	}
	outFile := filepath.Join(w.tmpDir, "output-"+strconv.FormatInt(c.AttemptID, 10))
	defer os.Remove(outFile)
	env, err := w.taskEnv(v, task, c, docker.OutputPath, x, secrets)
	if err != nil {
		return failed(err.Error())
	}
	req := &docker.Request{
		Image:      image,
		Pull:       docker.Pull(spec.Pull),
		Entrypoint: spec.Entrypoint,
		Cmd:        task.Command,
		Env:        env,
		Workdir:    spec.Workdir,
		User:       spec.User,
		Volumes:    hostVolumes(spec.Volumes, v.File),
		CPUs:       spec.CPUs,
		Memory:     spec.Memory,
		Network:    spec.Network,
		Name:       containerName(c),
		Labels: map[string]string{
			labelAttempt:  strconv.FormatInt(c.AttemptID, 10),
			labelLease:    strconv.FormatInt(c.Token, 10),
			labelWorker:   w.cfg.ID,
			labelRun:      strconv.FormatInt(c.RunID, 10),
			labelTask:     c.TaskID,
			labelPipeline: c.PipelineID,
		},
		Timeout:    time.Duration(task.Timeout),
		KillGrace:  w.cfg.KillGrace,
		OutputFile: outFile,
		MaxOutput:  w.cfg.MaxOutput,
		Log:        a.logs,
	}
	if task.Run != "" {
		req.Entrypoint, req.Cmd = []string{"/bin/sh", "-c"}, []string{task.Run}
	}
	// The attempt shows its image and container (API, UI) while it runs.
	// Failing to record them is no reason to stop the task: a lost lease
	// stops it by the usual path.
	req.Started = func(id string) {
		if err := w.st.AttemptSetContainer(a.ctx, c.Lease, image, id); err != nil && a.ctx.Err() == nil {
			w.log.Warn("could not record the attempt's container", "task", c.TaskID, "run", c.RunID, "container", id, "err", err)
		}
	}
	return w.engine.Run(a.ctx, req)
}

// hostVolumes resolves the relative sources of volumes ("./data:/data")
// against the directory of the pipeline file, as Compose does; absolute
// paths and volume names are kept.
func hostVolumes(vols []string, file string) []string {
	if len(vols) == 0 {
		return nil
	}
	out := make([]string, len(vols))
	for i, v := range vols {
		src, rest, ok := strings.Cut(v, ":")
		if ok && strings.HasPrefix(src, ".") && file != "" {
			v = filepath.Join(filepath.Dir(file), src) + ":" + rest
		}
		out[i] = v
	}
	return out
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName names an attempt's container for people reading
// `docker ps`: sluice-PIPELINE-TASK-ATTEMPTID.
func containerName(c *store.Claim) string {
	name := unsafeName.ReplaceAllString(c.PipelineID+"-"+c.TaskID, "_")
	if len(name) > 100 {
		name = name[:100]
	}
	return fmt.Sprintf("sluice-%s-%d", name, c.AttemptID)
}
