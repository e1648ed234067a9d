package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// attempt is one claimed attempt this worker holds the lease of.
type attempt struct {
	claim  *store.Claim
	ctx    context.Context
	cancel context.CancelCauseFunc
	logs   *logShipper
	// mask hides the task's secrets in everything the attempt produces;
	// arm sets it before the attempt produces anything. Nil masks nothing.
	mask *secret.Masker
}

// errLeaseLost stops an attempt whose lease was taken over.
var errLeaseLost = errors.New("lease lost: another worker may be running this task")

// begin registers the attempt of c, unless the worker drains: it returns
// nil then and the caller hands the lease back. A claim made along with a
// completion can commit after the drain began (its slots were taken
// before); the drain counts only what began before it. The caller runs
// the attempt with execute.
func (w *Worker) begin(c *store.Claim) *attempt {
	ctx, cancel := context.WithCancelCause(context.Background())
	a := &attempt{claim: c, ctx: ctx, cancel: cancel}
	a.logs = newLogShipper(w, a)
	w.mu.Lock()
	if w.draining {
		w.mu.Unlock()
		cancel(errDraining)
		return nil
	}
	w.running[c.AttemptID] = a
	w.mu.Unlock()
	w.log.Debug("attempt started", "pipeline", c.PipelineID, "run", c.RunID, "task", c.TaskID, "attempt", c.Attempt)
	return a
}

// release forgets an attempt once its outcome is recorded or abandoned.
func (w *Worker) release(a *attempt) {
	a.cancel(nil)
	w.mu.Lock()
	delete(w.running, a.claim.AttemptID)
	w.mu.Unlock()
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// lost stops an attempt whose lease is gone. Nothing more of it is written.
func (w *Worker) lost(a *attempt) {
	w.log.Warn("attempt lost its lease; stopping it, its outcome will not be recorded",
		"pipeline", a.claim.PipelineID, "run", a.claim.RunID, "task", a.claim.TaskID, "attempt", a.claim.Attempt)
	a.cancel(errLeaseLost)
}

// execute runs a, then each attempt its completion claimed along for
// this goroutine.
func (w *Worker) execute(a *attempt) {
	for a != nil {
		a = w.executeOne(a)
	}
}

// executeOne runs a and records its outcome, and returns the attempt
// claimed along with it to run next, if any.
func (w *Worker) executeOne(a *attempt) *attempt {
	c := a.claim
	res := w.runAttempt(a)
	w.slots <- struct{}{} // the process is gone; another may start
	if res == nil {
		w.release(a) // settled in the store already
		return nil
	}
	// Before anything reads it: the store, the worker's log, callbacks.
	a.maskResult(res)
	res.Finished = w.clock.Now() // in the store's time, like the attempt's start

	if res.Stopped {
		switch cause := context.Cause(a.ctx); {
		case errors.Is(cause, errLeaseLost):
			w.cfg.Metrics.AttemptEnded(c.PipelineID, sluice.AttemptLost, res.Finished.Sub(c.StartedAt))
			w.release(a)
		default: // draining or killed: give the lease back, not a failure
			w.cfg.Metrics.AttemptEnded(c.PipelineID, sluice.AttemptHandedBack, res.Finished.Sub(c.StartedAt))
			err := w.st.AttemptHandBack(context.Background(), []store.Lease{c.Lease})
			if err != nil {
				w.log.Warn("could not hand lease back; it will expire instead", "task", c.TaskID, "run", c.RunID, "err", err)
			}
			w.release(a)
		}
		return nil
	}
	p := &store.AttemptCompleteParams{
		Lease:      c.Lease,
		State:      res.State,
		ExitCode:   res.ExitCode,
		Error:      res.Error,
		FinishedAt: res.Finished,
		Outputs:    res.Outputs,
		RetryAt:    res.RetryAt,
		Log:        a.logs.final(),
	}
	return w.completer.add(p, a)
}

// runAttempt resolves the task of a claim and runs it. It returns nil when
// the attempt already ended in the store (a mapped task that expanded).
func (w *Worker) runAttempt(a *attempt) *executor.Result {
	c := a.claim
	v, err := w.versions.Get(a.ctx, c.VersionID)
	if err != nil {
		return failed(fmt.Sprintf("cannot load version %d of pipeline %s: %v", c.VersionID, c.PipelineID, err))
	}
	task := v.Pipeline.Tasks[c.TaskID]
	if task == nil {
		return failed(fmt.Sprintf("task %q is not in version %s of pipeline %s", c.TaskID, short(v.Hash), c.PipelineID))
	}
	if task.Kind == pipeline.KindNoop && task.When == "" && task.ForEach == nil {
		now := time.Now()
		return &executor.Result{State: sluice.AttemptSuccess, Started: now, Finished: now}
	}
	// The mask is armed before the attempt can produce anything, for
	// every kind of task.
	secrets, err := w.arm(a, task)
	if err != nil {
		return failed(err.Error())
	}
	x, err := w.newExprContext(a.ctx, v, task, c, secrets)
	if err != nil {
		return failed(err.Error())
	}
	if c.MapIndex < 0 && task.When != "" {
		run, err := x.when(task.When)
		if err != nil {
			return failed("when: " + err.Error())
		}
		if !run {
			// The store keeps no attempt of a skip: the reason goes with
			// the instance, as its note.
			now := time.Now()
			return &executor.Result{State: sluice.AttemptSkipped, Started: now, Finished: now, Error: "when: " + task.When + " is false"}
		}
	}
	if c.MapIndex < 0 && task.ForEach != nil {
		return w.expand(a, x, task)
	}
	switch task.Kind {
	case pipeline.KindNoop:
		now := time.Now()
		return &executor.Result{State: sluice.AttemptSuccess, Started: now, Finished: now}
	case pipeline.KindHTTP:
		req, err := x.httpRequest(task.HTTP)
		if err != nil {
			return failed(err.Error())
		}
		req.MaxBody, req.Log = w.cfg.MaxOutput, a.logs
		return executor.RunHTTP(a.ctx, req)
	case pipeline.KindSensor:
		return w.poke(a, x, task)
	case pipeline.KindPipeline:
		return w.subPipeline(a, x, task)
	case pipeline.KindContainer:
		if task.Container.Kubernetes != nil {
			return w.runPod(a, x, v, task, secrets)
		}
		return w.runContainer(a, x, v, task, secrets)
	}
	dir, cleanup, err := w.workdir(v, task, c)
	if err != nil {
		return failed(err.Error())
	}
	defer cleanup()
	outFile := filepath.Join(w.tmpDir, "output-"+strconv.FormatInt(c.AttemptID, 10))
	defer os.Remove(outFile)
	env, err := w.environment(v, task, c, outFile, x, secrets)
	if err != nil {
		return failed(err.Error())
	}
	script, argv := task.Run, task.Command
	if len(task.Interpreter) > 0 && script != "" {
		// The script goes to a file the interpreter runs, as GitHub
		// Actions' shell: does.
		file := filepath.Join(w.tmpDir, "script-"+strconv.FormatInt(c.AttemptID, 10))
		if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
			return failed("cannot write the script: " + err.Error())
		}
		defer os.Remove(file)
		script, argv = "", append(append([]string(nil), task.Interpreter...), file)
	}
	req := &executor.Request{
		Script:     script,
		Argv:       argv,
		Dir:        dir,
		Env:        env,
		Timeout:    time.Duration(task.Timeout),
		KillGrace:  w.cfg.KillGrace,
		OutputFile: outFile,
		MaxOutput:  w.cfg.MaxOutput,
		Log:        a.logs,
	}
	return executor.Run(a.ctx, req)
}

func dirOf(file string) string { return filepath.Dir(file) }

func failed(msg string) *executor.Result {
	now := time.Now()
	return &executor.Result{State: sluice.AttemptFailed, Error: msg, Started: now, Finished: now}
}

// workdir resolves the task's working directory: relative paths are
// relative to the pipeline file's directory, which is also the default. A
// pipeline without a file (uploaded) runs in a fresh directory per attempt.
func (w *Worker) workdir(v *version, task *pipeline.Task, c *store.Claim) (string, func(), error) {
	base := ""
	if v.File != "" {
		base = filepath.Dir(v.File)
	}
	dir := task.Workdir
	switch {
	case filepath.IsAbs(dir):
		return dir, func() {}, nil
	case base != "":
		return filepath.Join(base, dir), func() {}, nil
	}
	tmp, err := os.MkdirTemp(w.tmpDir, "attempt-"+strconv.FormatInt(c.AttemptID, 10)+"-")
	if err != nil {
		return "", nil, fmt.Errorf("cannot create a working directory: %w", err)
	}
	if dir != "" {
		tmp = filepath.Join(tmp, dir)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return "", nil, fmt.Errorf("cannot create workdir %s: %w", dir, err)
		}
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// environment builds the task's environment: the worker's own, then the
// task's env, then the run context, so SLUICE_* always mean what sluice says.
func (w *Worker) environment(v *version, task *pipeline.Task, c *store.Claim, outFile string, x *exprContext, secrets []openedSecret) ([]string, error) {
	env, err := w.taskEnv(v, task, c, outFile, x, secrets)
	if err != nil {
		return nil, err
	}
	return append(baseEnv(), env...), nil
}

// taskEnv is the part of a task's environment sluice gives it: the task's
// env, its secrets, then the run context. A container gets only this, not
// the worker's own environment.
func (w *Worker) taskEnv(v *version, task *pipeline.Task, c *store.Claim, outFile string, x *exprContext, secrets []openedSecret) ([]string, error) {
	var env []string
	keys := make([]string, 0, len(task.Env))
	for k := range task.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val, err := x.render(task.Env[k])
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", k, err)
		}
		env = append(env, k+"="+val)
	}
	for _, s := range secrets {
		env = append(env, s.name+"="+s.value)
	}
	loc := v.Pipeline.Location()
	env = append(env,
		"SLUICE_PIPELINE="+c.PipelineID,
		"SLUICE_RUN_ID="+strconv.FormatInt(c.RunID, 10),
		"SLUICE_RUN_KEY="+c.RunKey,
		"SLUICE_TASK="+c.TaskID,
		"SLUICE_ATTEMPT="+strconv.Itoa(c.Attempt),
		"SLUICE_LOGICAL_DATE="+c.LogicalDate.UTC().Format(time.RFC3339),
		"SLUICE_DS="+c.LogicalDate.In(loc).Format("2006-01-02"),
		"SLUICE_VERSION="+v.Hash,
		"SLUICE_OUTPUT="+outFile,
		"SLUICE_TRIGGER_EVENTS="+triggerEventsEnv(c.TriggerEvents),
	)
	if c.Item != nil {
		env = append(env, "SLUICE_ITEM="+*c.Item, "SLUICE_ITEM_INDEX="+strconv.Itoa(c.MapIndex))
	}
	params, err := paramEnv(c.Params)
	if err != nil {
		return nil, err
	}
	env = append(env, params...)
	if len(task.DependsOn) > 0 {
		outs := x.outputs()
		for _, up := range task.DependsOn {
			ks := make([]string, 0, len(outs[up]))
			for k := range outs[up] {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				env = append(env, "SLUICE_OUTPUT_"+EnvName(up)+"_"+EnvName(k)+"="+outs[up][k])
			}
		}
	}
	return env, nil
}

// triggerEventsEnv is $SLUICE_TRIGGER_EVENTS: the JSON list of the asset
// events that started the run, [] for any other run.
func triggerEventsEnv(raw []byte) string {
	if len(raw) == 0 {
		return "[]"
	}
	return string(raw)
}

// EnvName turns a task id, param name or output key into the part of an
// environment variable name: upper-cased, with every character other than
// a letter or digit replaced by "_".
func EnvName(s string) string {
	b := []byte(s)
	for i, ch := range b {
		switch {
		case ch >= 'a' && ch <= 'z':
			b[i] = ch - 'a' + 'A'
		case ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// paramEnv renders run params as SLUICE_PARAM_<NAME> variables: strings
// as they are, other values as JSON (true, 3, 2.5).
func paramEnv(raw []byte) ([]string, error) {
	params, err := decodeParams(raw)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, k := range names {
		out = append(out, "SLUICE_PARAM_"+EnvName(k)+"="+params[k])
	}
	return out, nil
}
