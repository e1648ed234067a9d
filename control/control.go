// Package control performs the operations people and scripts ask of
// sluice: trigger a run, upload or delete a pipeline, pause it, cancel a
// run, retry or clear tasks. The REST API, the web UI and the CLI all come
// through here, so each operation is checked and done the same way
// whichever door it came in by.
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// Control performs operations on a store. Create it with New.
type Control struct {
	st    store.Store
	clock sluice.Clock
	log   *slog.Logger
	box   *secret.Box
}

// New returns a Control over st. A nil clock is the store's (see
// store.Clocked), the one its scheduler and workers tell time by, or else
// the system clock.
func New(st store.Store, clock sluice.Clock, log *slog.Logger) *Control {
	if clock == nil {
		clock = sluice.SystemClock
		if c, ok := st.(store.Clocked); ok {
			clock = c.Clock()
		}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Control{st: st, clock: clock, log: log}
}

// Clock returns the clock Control tells time by.
func (c *Control) Clock() sluice.Clock { return c.clock }

// Store returns the store, for reads.
func (c *Control) Store() store.Store { return c.st }

// Pipeline loads a stored pipeline's live version, decoded.
func (c *Control) Pipeline(ctx context.Context, id string) (*store.Pipeline, *pipeline.Pipeline, error) {
	sp, err := c.st.PipelineGet(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if sp.VersionID == 0 {
		return sp, nil, nil
	}
	p, err := c.Version(ctx, sp.VersionID)
	return sp, p, err
}

// Version decodes a stored version.
func (c *Control) Version(ctx context.Context, id int64) (*pipeline.Pipeline, error) {
	v, err := c.st.VersionGet(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Decode(v.Spec)
	if err != nil {
		return nil, fmt.Errorf("version %d does not decode: %w", id, err)
	}
	return p, nil
}

// NextRun returns the logical date of a pipeline's next scheduled run, p
// being its live version: the scheduler's own plan (scheduler.NextRun)
// from its last scheduled run. A time not after now is a run due now. ok
// is false when no scheduled run is coming: no schedule or past its end,
// paused, its file missing, or no valid version.
func (c *Control) NextRun(sp *store.Pipeline, p *pipeline.Pipeline) (time.Time, bool) {
	if p == nil || sp.Paused || sp.Missing {
		return time.Time{}, false
	}
	return scheduler.NextRun(p, sp.LastScheduledAt, c.clock.Now())
}

// Trigger starts a manual run of a pipeline's live version with params,
// checked against the pipeline's param types. by names who asked, for the
// log.
func (c *Control) Trigger(ctx context.Context, pipelineID string, params map[string]any, by string) (*store.Run, error) {
	sp, p, err := c.Pipeline(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version to run: fix its file first (%s)", pipelineID, sp.ParseError)
	}
	bound, err := p.BindParams(params)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(bound)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now().UTC()
	run, _, err := c.st.RunCreate(ctx, &store.RunCreateParams{
		PipelineID: pipelineID, VersionID: sp.VersionID, Kind: store.RunManual, LogicalDate: now, Params: raw,
		Key: "manual__" + now.Format("2006-01-02T15:04:05.000000Z") + "__" + randomSuffix(),
	})
	if err != nil {
		return nil, err
	}
	c.logger(ctx).Info("run triggered", "pipeline", pipelineID, "run", run.ID, "by", by)
	return run, nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UploadResult is what an upload did.
type UploadResult struct {
	Pipeline *pipeline.Pipeline
	store.PipelineSaveResult
}

// MaxUpload is the largest pipeline file accepted, in bytes.
const MaxUpload = 1 << 20

// Upload stores a pipeline file sent through the API or the UI: parsed,
// validated and versioned like a file from the pipelines folder. A file
// with errors is refused with every error and its position (EINVALID,
// Details a pipeline.ErrorList), and nothing is stored. name is the
// uploaded file's name, used in error positions.
func (c *Control) Upload(ctx context.Context, name string, src []byte, by string) (*UploadResult, error) {
	if name == "" {
		name = "upload.yaml"
	}
	if err := checkFileName(name); err != nil {
		return nil, err
	}
	if len(src) > MaxUpload {
		return nil, sluice.Errorf(sluice.ETOOLARGE, "%s is %d bytes, over the limit of %d", name, len(src), MaxUpload)
	}
	p, err := pipeline.Parse(name, src)
	if err != nil {
		if list, ok := err.(pipeline.ErrorList); ok {
			return nil, &sluice.Error{Code: sluice.EINVALID, Message: fmt.Sprintf("%s has %d error(s):\n%s", name, len(list), list.Error()), Details: list}
		}
		return nil, sluice.Errorf(sluice.EINVALID, "%s: %v", name, err)
	}
	if sp, err := c.st.PipelineGet(ctx, p.ID); err == nil && sp.File != "" {
		return nil, sluice.Errorf(sluice.ECONFLICT, "pipeline %q comes from the file %s on the server: change that file instead of uploading", p.ID, sp.File)
	} else if err != nil && sluice.ErrorCode(err) != sluice.ENOTFOUND {
		return nil, err
	}
	res, err := c.st.PipelineSave(ctx, catalog.SaveParams(p, src, ""))
	if err != nil {
		return nil, err
	}
	c.logger(ctx).Info("pipeline uploaded", "pipeline", p.ID, "version", p.Hash()[:12], "new_version", res.Created, "by", by)
	return &UploadResult{Pipeline: p, PipelineSaveResult: *res}, nil
}

// checkFileName accepts a plain file name: no directories, no "..".
func checkFileName(name string) error {
	if strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") || name != path.Base(name) || strings.ContainsRune(name, 0) {
		return sluice.Errorf(sluice.EBADREQUEST, "file name %q must be a plain name such as orders.yaml, without a path", name)
	}
	if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" {
		return sluice.Errorf(sluice.EBADREQUEST, "file name %q must end in .yaml or .yml", name)
	}
	return nil
}

// Delete deletes a pipeline and all of its history. A pipeline whose file
// is still in the pipelines folder is refused: the next scan would bring
// it back.
//
// With andFile, the file is removed first (on this machine: in a
// multi-machine set-up, where the pipelines folder lives).
func (c *Control) Delete(ctx context.Context, id, by string, andFile bool) error {
	sp, err := c.st.PipelineGet(ctx, id)
	if err != nil {
		return err
	}
	// The file must be gone, or the next scan brings the pipeline back.
	// It may be on this machine (one server), or on a scheduler's: there
	// the scheduler marks the pipeline missing when the file goes.
	if sp.File != "" {
		_, statErr := os.Stat(sp.File)
		local := statErr == nil
		switch {
		case local && !andFile:
			return sluice.Errorf(sluice.ECONFLICT, "pipeline %q is defined by the file %s, which still exists: delete the file too (--and-file), or the pipeline comes back on the next scan", id, sp.File)
		case local:
			if err := os.Remove(sp.File); err != nil {
				return sluice.Errorf(sluice.ECONFLICT, "cannot delete the file of pipeline %q: %v", id, err)
			}
			c.logger(ctx).Info("pipeline file deleted", "pipeline", id, "file", sp.File, "by", by)
		case !sp.Missing:
			return sluice.Errorf(sluice.ECONFLICT, "pipeline %q is defined by the file %s, which its scheduler still sees: if the file is on another machine, remove it there; once the scheduler marks the pipeline missing (within seconds of the file going), delete it again", id, sp.File)
		}
	}
	if err := c.st.PipelineDelete(ctx, id); err != nil {
		return err
	}
	c.logger(ctx).Info("pipeline deleted", "pipeline", id, "by", by)
	return nil
}

// SetPaused pauses or unpauses a pipeline's schedule.
func (c *Control) SetPaused(ctx context.Context, id string, paused bool, by string) error {
	if err := c.st.PipelineSetPaused(ctx, id, paused); err != nil {
		return err
	}
	c.logger(ctx).Info("pipeline paused", "pipeline", id, "paused", paused, "by", by)
	return nil
}

// Cancel cancels a run; its running tasks are stopped.
func (c *Control) Cancel(ctx context.Context, runID int64, by string) error {
	if err := c.st.RunCancel(ctx, runID); err != nil {
		return err
	}
	c.logger(ctx).Info("run cancelled", "run", runID, "by", by)
	return nil
}

// RetryFailed runs a run's failed tasks again; it returns how many.
func (c *Control) RetryFailed(ctx context.Context, runID int64, by string) (int, error) {
	n, err := c.st.RunRetryFailed(ctx, runID)
	if err == nil {
		c.logger(ctx).Info("failed tasks retried", "run", runID, "tasks", n, "by", by)
	}
	return n, err
}

// Clear runs a finished task again, with everything downstream of it.
func (c *Control) Clear(ctx context.Context, runID int64, taskID, by string) error {
	if err := c.st.InstanceClear(ctx, runID, taskID); err != nil {
		return err
	}
	c.logger(ctx).Info("task cleared", "run", runID, "task", taskID, "by", by)
	return nil
}

// ClearSet clears the instances a selection names (see
// store.ClearParams); a dry run only lists them.
func (c *Control) ClearSet(ctx context.Context, p *store.ClearParams, by string) ([]*store.Selected, error) {
	sel, err := c.st.InstanceClearSet(ctx, p)
	if err != nil {
		return nil, err
	}
	if !p.DryRun {
		c.logger(ctx).Info("tasks cleared", "run", p.RunID, "tasks", p.TaskIDs, "downstream", p.Downstream, "upstream", p.Upstream,
			"only_failed", p.OnlyFailed, "past", p.Past, "future", p.Future, "instances", len(sel), "by", by)
	}
	return sel, nil
}

// MarkSet marks the instances a selection names success or failed (see
// store.MarkParams); a dry run only lists them.
func (c *Control) MarkSet(ctx context.Context, p *store.MarkParams, by string) ([]*store.Selected, error) {
	sel, err := c.st.InstanceMarkSet(ctx, p)
	if err != nil {
		return nil, err
	}
	if !p.DryRun {
		c.logger(ctx).Info("tasks marked", "run", p.RunID, "tasks", p.TaskIDs, "state", string(p.State), "downstream", p.Downstream, "upstream", p.Upstream,
			"past", p.Past, "future", p.Future, "instances", len(sel), "by", by)
	}
	return sel, nil
}

// Mark sets a task's final state by hand: success or failed.
func (c *Control) Mark(ctx context.Context, runID int64, taskID string, state sluice.InstanceState, by string) error {
	if err := c.st.InstanceMark(ctx, runID, taskID, state); err != nil {
		return err
	}
	c.logger(ctx).Info("task marked", "run", runID, "task", taskID, "state", string(state), "by", by)
	return nil
}

// Diff returns the unified diff of two versions' sources.
func (c *Control) Diff(ctx context.Context, pipelineID string, from, to int64) (string, error) {
	a, err := c.st.VersionGet(ctx, from)
	if err != nil {
		return "", err
	}
	b, err := c.st.VersionGet(ctx, to)
	if err != nil {
		return "", err
	}
	if a.PipelineID != pipelineID || b.PipelineID != pipelineID {
		return "", sluice.Errorf(sluice.ENOTFOUND, "versions %d and %d are not both versions of %q", from, to, pipelineID)
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a.Source), B: difflib.SplitLines(b.Source),
		FromFile: fmt.Sprintf("%s@%s", pipelineID, short(a.Hash)), ToFile: fmt.Sprintf("%s@%s", pipelineID, short(b.Hash)),
		Context: 3,
	})
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
