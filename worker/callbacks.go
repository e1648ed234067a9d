package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/expression"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// callbackTimeout bounds one callback.
const callbackTimeout = 5 * time.Minute

// callbacks runs the callbacks (on_success, on_failure, on_retry) the
// store queues, until ctx ends. A failing callback is logged and recorded;
// it never fails a run.
func (w *Worker) callbacks(ctx context.Context) {
	for {
		wake := w.st.Wait(store.TopicCallbacks)
		cbs, err := w.st.CallbackClaim(ctx, &store.CallbackClaimParams{Worker: w.cfg.ID, Limit: 4, LeaseDuration: callbackTimeout + time.Minute})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			for _, cb := range cbs {
				w.runCallback(ctx, cb)
			}
			if len(cbs) > 0 {
				continue
			}
		}
		t := time.NewTimer(5 * w.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (w *Worker) runCallback(ctx context.Context, cb *store.Callback) {
	mask, err := w.callback(ctx, cb)
	msg := ""
	if err != nil {
		msg = mask.String(err.Error()) // it is stored and logged
		w.log.Warn("callback failed; the run is not affected", "run", cb.RunID, "task", cb.TaskID, "event", cb.Event, "err", msg)
	} else {
		w.log.Info("callback ran", "run", cb.RunID, "task", cb.TaskID, "event", cb.Event)
	}
	if err := w.st.CallbackComplete(context.Background(), cb.ID, cb.Token, msg); err != nil {
		w.log.Warn("could not record a callback's end", "run", cb.RunID, "event", cb.Event, "err", err)
	}
}

// callback runs a callback. It returns the mask its error must pass
// before it is stored or logged.
func (w *Worker) callback(ctx context.Context, cb *store.Callback) (*secret.Masker, error) {
	run, err := w.st.RunGet(ctx, cb.RunID)
	if err != nil {
		return nil, err
	}
	v, err := w.versions.Get(ctx, run.VersionID)
	if err != nil {
		return nil, err
	}
	var action *pipeline.Action
	lastError, attemptNo := "", 0
	if cb.TaskID == "" {
		action = map[string]*pipeline.Action{"success": v.Pipeline.OnSuccess, "failure": v.Pipeline.OnFailure}[cb.Event]
	} else if t := v.Pipeline.Tasks[cb.TaskID]; t != nil {
		action = map[string]*pipeline.Action{"success": t.OnSuccess, "failure": t.OnFailure, "retry": t.OnRetry}[cb.Event]
		attemptNo, lastError = cb.Attempt, cb.AttemptError
	}
	if action == nil {
		return nil, nil // the version has no such callback any more
	}
	mask, maskErr := w.callbackMask(ctx, v.Pipeline, cb.TaskID)
	// The attempt's error was masked when it was stored; masking it again
	// covers errors stored by an older worker that did not.
	lastError = mask.String(lastError)
	err = w.act(ctx, v, run, cb, action, lastError, attemptNo)
	if err != nil && maskErr != nil {
		err = fmt.Errorf("the callback failed, and its error is not shown: it may hold a secret that cannot be masked, as %v", maskErr)
	}
	return mask, err
}

// act runs a callback's action, an HTTP request or a process.
func (w *Worker) act(ctx context.Context, v *version, run *store.Run, cb *store.Callback, action *pipeline.Action, lastError string, attemptNo int) error {
	loc := v.Pipeline.Location()
	var params map[string]any
	_ = json.Unmarshal(run.Params, &params)
	env := map[string]any{
		"params": params,
		"run": map[string]any{"id": run.ID, "key": run.Key, "pipeline": run.PipelineID, "state": string(run.State),
			"logical_date": run.LogicalDate.UTC().Format(time.RFC3339), "ds": run.LogicalDate.In(loc).Format("2006-01-02")},
		"event": cb.Event, "task": cb.TaskID, "error": lastError, "attempt": attemptNo,
	}
	ctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	if action.HTTP != nil {
		h := action.HTTP
		url, err := expression.Render(h.URL, env)
		if err != nil {
			return err
		}
		body, err := expression.Render(h.Body, env)
		if err != nil {
			return err
		}
		headers := map[string]string{}
		for k, tmpl := range h.Headers {
			if headers[k], err = expression.Render(tmpl, env); err != nil {
				return err
			}
		}
		res := executor.RunHTTP(ctx, &executor.HTTPRequest{Method: h.Method, URL: url, Headers: headers, Body: body, Expect: h.Expect, Timeout: h.Timeout.D()})
		if res.Error != "" {
			return fmt.Errorf("%s", res.Error)
		}
		return nil
	}
	vars := append(baseEnv(),
		"SLUICE_EVENT="+cb.Event,
		"SLUICE_PIPELINE="+run.PipelineID,
		"SLUICE_RUN_ID="+strconv.FormatInt(run.ID, 10),
		"SLUICE_RUN_KEY="+run.Key,
		"SLUICE_RUN_STATE="+string(run.State),
		"SLUICE_LOGICAL_DATE="+run.LogicalDate.UTC().Format(time.RFC3339),
		"SLUICE_DS="+run.LogicalDate.In(loc).Format("2006-01-02"),
		"SLUICE_TASK="+cb.TaskID,
		"SLUICE_ATTEMPT="+strconv.Itoa(attemptNo),
		"SLUICE_ERROR="+lastError,
	)
	dir := w.tmpDir
	if v.File != "" {
		dir = dirOf(v.File)
	}
	sink := &callbackLog{}
	res := executor.Run(ctx, &executor.Request{Script: action.Run, Argv: action.Command, Dir: dir, Env: vars, Timeout: callbackTimeout, KillGrace: w.cfg.KillGrace, Log: sink})
	if res.Error != "" {
		return fmt.Errorf("%s; last output: %s", res.Error, sink.last)
	}
	return nil
}

// callbackLog keeps a callback's last output line for its error message.
type callbackLog struct{ last string }

func (l *callbackLog) Line(_ executor.Stream, _ time.Time, line []byte) { l.last = string(line) }
