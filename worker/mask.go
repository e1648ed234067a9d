package worker

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/secret"
)

// Everything an attempt produces passes one mask, built from the secrets
// its task declares, before the store or a log sees it: the mask is armed
// before the attempt can write its first log line (whatever its kind), the
// log shipper masks each line as it comes, and execute masks the result
// (error and outputs) on its one way to the store's completion call. Task
// kinds do not mask anything themselves, so a new kind cannot forget to.
// Callbacks get a mask of their own, from the same secrets.

// openedSecret is a secret a task declares, decrypted.
type openedSecret struct{ name, value string }

// openSecrets decrypts the named secrets. A name that is not set is an
// error, unless missingOK: a secret that does not exist cannot leak.
func (w *Worker) openSecrets(ctx context.Context, names []string, missingOK bool) ([]openedSecret, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if w.cfg.Secrets == nil {
		return nil, fmt.Errorf("the task needs secrets %v, but this worker has no secret key: set SLUICE_SECRET_KEY (the same on every process)", names)
	}
	sealed, err := w.st.SecretGet(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("cannot read secrets: %w", err)
	}
	out := make([]openedSecret, 0, len(names))
	for _, n := range names {
		s, ok := sealed[n]
		if !ok && missingOK {
			continue
		}
		if !ok {
			return nil, fmt.Errorf("secret %s is not set: set it with `sluice secrets set %s`", n, n)
		}
		v, err := w.cfg.Secrets.Open(n, s)
		if err != nil {
			return nil, err
		}
		out = append(out, openedSecret{name: n, value: string(v)})
	}
	return out, nil
}

// arm opens the task's secrets and has the attempt mask them in everything
// it produces from now on. It returns the secrets, for the environment of
// a process.
func (w *Worker) arm(a *attempt, task *pipeline.Task) ([]openedSecret, error) {
	secrets, err := w.openSecrets(a.ctx, task.Secrets, false)
	if err != nil {
		return nil, err
	}
	a.mask = maskerOf(secrets)
	a.logs.setMask(a.mask)
	for _, s := range secrets {
		if n := len(s.value); n > 0 && n < secret.MinMaskLength {
			a.logs.Line(executor.System, time.Now(), []byte(fmt.Sprintf(
				"secret %s is %d bytes, too short to mask (under %d): it shows as it is in this attempt's log, outputs and error; use a longer value",
				s.name, n, secret.MinMaskLength)))
		}
	}
	return secrets, nil
}

// maskResult masks the secrets in what an attempt came to, whatever its
// kind: its error, and its outputs, keys and values. An output that holds
// a secret is stored masked, so tasks downstream get the masked value (as
// GitHub Actions does not pass such an output on); the log says which.
func (a *attempt) maskResult(res *executor.Result) {
	if a.mask.Empty() {
		return
	}
	res.Error = a.mask.String(res.Error)
	if len(res.Outputs) == 0 {
		return
	}
	keys := make([]string, 0, len(res.Outputs))
	for k := range res.Outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	outs := make(map[string]string, len(keys))
	for _, k := range keys {
		v := res.Outputs[k]
		mk, mv := a.mask.String(k), a.mask.String(v)
		switch {
		case mk != k:
			a.logs.Line(executor.System, time.Now(), []byte(fmt.Sprintf(
				"output %q has a secret in its key: it is stored under the masked key, and its value masked too if it holds one", mk)))
		case mv != v:
			a.logs.Line(executor.System, time.Now(), []byte(fmt.Sprintf(
				"output %q holds a secret: it is stored with the secret masked as %s, and tasks downstream get it masked", k, secret.Masked)))
		}
		outs[mk] = mv
	}
	res.Outputs = outs
}

// callbackMask returns the mask of a callback: the secrets of its task, or
// for a pipeline's callback those of all its tasks, which is everything
// the run could see.
func (w *Worker) callbackMask(ctx context.Context, p *pipeline.Pipeline, taskID string) (*secret.Masker, error) {
	var names []string
	if t := p.Tasks[taskID]; taskID != "" && t != nil {
		names = t.Secrets
	} else if taskID == "" {
		seen := map[string]bool{}
		for _, t := range p.Tasks {
			for _, n := range t.Secrets {
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
		sort.Strings(names)
	}
	secrets, err := w.openSecrets(ctx, names, true)
	if err != nil {
		return nil, err
	}
	return maskerOf(secrets), nil
}

// maskerOf returns the mask of secrets; nil, which masks nothing, when
// there are none, as for most tasks: an empty Masker still costs a table
// of 8 KiB to build.
func maskerOf(secrets []openedSecret) *secret.Masker {
	if len(secrets) == 0 {
		return nil
	}
	values := make([]string, len(secrets))
	for i, s := range secrets {
		values[i] = s.value
	}
	return secret.NewMasker(values...)
}
