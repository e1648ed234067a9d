package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// expand turns a mapped task's claim into its items.
func (w *Worker) expand(a *attempt, x *exprContext, task *pipeline.Task) *executor.Result {
	items, err := x.items(task.ForEach)
	if err != nil {
		return failed(err.Error())
	}
	err = w.st.InstanceExpand(a.ctx, &store.InstanceExpandParams{Lease: a.claim.Lease, Items: items})
	switch {
	case err == nil:
		w.log.Debug("mapped task expanded", "run", a.claim.RunID, "task", a.claim.TaskID, "items", len(items))
		return nil
	case errors.Is(err, sluice.ErrLeaseLost):
		return nil
	default:
		return failed(fmt.Sprintf("cannot expand into %d items: %v", len(items), err))
	}
}

// rescheduled ends a check that found its condition not met yet.
func rescheduled(at time.Time) *executor.Result {
	now := time.Now()
	return &executor.Result{State: sluice.AttemptRescheduled, Started: now, Finished: now, RetryAt: at}
}

// poke checks a sensor's condition once. Not met, the task is checked
// again after poke_interval and holds no slot meanwhile; met, it succeeds;
// still not met after its timeout (counted from its first check), it fails.
func (w *Worker) poke(a *attempt, x *exprContext, task *pipeline.Task) *executor.Result {
	c, wf := a.claim, task.WaitFor
	var (
		met  bool
		what string
		why  string
	)
	switch {
	case wf.File != "":
		pattern, err := x.render(wf.File)
		if err != nil {
			return failed("wait_for file: " + err.Error())
		}
		what = "a file matching " + pattern
		ok, err := executor.FileExists(pattern)
		if err != nil {
			return failed(err.Error())
		}
		met, why = ok, "no file matches yet"
	case wf.URL != "":
		url, err := x.render(wf.URL)
		if err != nil {
			return failed("wait_for url: " + err.Error())
		}
		what = url + " to answer 2xx"
		met, why = executor.URLAnswers(a.ctx, url, 30*time.Second)
	case wf.Pipeline != "":
		what = fmt.Sprintf("a successful run of %s for %s", wf.Pipeline, c.LogicalDate.UTC().Format(time.RFC3339))
		ld := c.LogicalDate
		runs, err := w.st.RunList(a.ctx, &store.RunListParams{PipelineID: wf.Pipeline, LogicalDate: &ld, Limit: 10})
		if err != nil {
			return failed("cannot look for runs of " + wf.Pipeline + ": " + err.Error())
		}
		why = "no run yet"
		for _, r := range runs {
			if r.State == sluice.RunSuccess {
				met = true
				break
			}
			why = fmt.Sprintf("run %d is %s", r.ID, r.State)
		}
	}
	now := w.clock.Now()
	if met {
		a.logs.Line(executor.System, time.Now(), []byte("condition met: "+what))
		return &executor.Result{State: sluice.AttemptSuccess, Started: time.Now(), Finished: time.Now()}
	}
	waited := now.Sub(c.FirstStartedAt)
	if waited >= wf.Timeout.D() {
		return &executor.Result{State: sluice.AttemptTimedOut, Started: time.Now(), Finished: time.Now(),
			Error: fmt.Sprintf("waited %s for %s (%s)", waited.Round(time.Second), what, why)}
	}
	next := now.Add(wf.PokeInterval.D())
	a.logs.Line(executor.System, time.Now(), []byte(fmt.Sprintf("waiting for %s: %s; next check at %s", what, why, next.Local().Format("15:04:05"))))
	return rescheduled(next)
}

// subPipeline runs another pipeline and waits for its run, checking on it
// when it ends (the store wakes this task) or every 30s, holding no slot
// in between. A retry of the task starts a fresh run.
func (w *Worker) subPipeline(a *attempt, x *exprContext, task *pipeline.Task) *executor.Result {
	c := a.claim
	key := fmt.Sprintf("child__%d__%s__%d__%d", c.RunID, c.TaskID, c.MapIndex, c.Failures)
	child, err := w.childRun(a.ctx, x, task, c, key)
	if err != nil {
		return failed(err.Error())
	}
	switch child.State {
	case sluice.RunSuccess:
		a.logs.Line(executor.System, time.Now(), []byte(fmt.Sprintf("run %d of %s succeeded", child.ID, task.Pipeline)))
		now := time.Now()
		return &executor.Result{State: sluice.AttemptSuccess, Started: now, Finished: now,
			Outputs: map[string]string{"run_id": strconv.FormatInt(child.ID, 10)}}
	case sluice.RunFailed, sluice.RunCancelled:
		return failed(fmt.Sprintf("run %d of %s ended %s", child.ID, task.Pipeline, child.State))
	}
	a.logs.Line(executor.System, time.Now(), []byte(fmt.Sprintf("waiting for run %d of %s (%s)", child.ID, task.Pipeline, child.State)))
	return rescheduled(w.clock.Now().Add(30 * time.Second))
}

func (w *Worker) childRun(ctx context.Context, x *exprContext, task *pipeline.Task, c *store.Claim, key string) (*store.Run, error) {
	sp, err := w.st.PipelineGet(ctx, task.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", task.Pipeline, err)
	}
	if sp.VersionID == 0 {
		return nil, fmt.Errorf("pipeline %s has no valid version: %s", task.Pipeline, sp.ParseError)
	}
	v, err := w.versions.Get(ctx, sp.VersionID)
	if err != nil {
		return nil, err
	}
	given := map[string]any{}
	for k, tmpl := range task.Params {
		if given[k], err = x.render(tmpl); err != nil {
			return nil, fmt.Errorf("params %s: %w", k, err)
		}
	}
	bound, err := v.Pipeline.BindParams(given)
	if err != nil {
		return nil, fmt.Errorf("params of %s: %w", task.Pipeline, err)
	}
	raw, err := json.Marshal(bound)
	if err != nil {
		return nil, err
	}
	run, created, err := w.st.RunCreate(ctx, &store.RunCreateParams{
		PipelineID: task.Pipeline, VersionID: sp.VersionID, Key: key, Kind: store.RunManual,
		LogicalDate: c.LogicalDate, Params: raw, ParentRunID: c.RunID, ParentTask: c.TaskID,
	})
	if err == nil && created {
		w.log.Info("child run created", "pipeline", task.Pipeline, "run", run.ID, "parent_run", c.RunID, "task", c.TaskID)
	}
	return run, err
}
