package control

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
)

// DefaultRetention is how long finished runs are kept when neither their
// pipeline nor the schedulers say otherwise.
const DefaultRetention = 30 * 24 * time.Hour

// CleanupParams are the arguments of Cleanup.
type CleanupParams struct {
	// DryRun counts what would go and deletes nothing.
	DryRun bool
	// Retention replaces the default retention of pipelines that set
	// none; nil uses the schedulers' (as they recorded it with the
	// retention job), else DefaultRetention. 0 keeps their runs.
	Retention *time.Duration
	// PipelineID limits the cleanup to one pipeline.
	PipelineID string
	// MaxTime bounds how long a cleanup deletes before it returns with
	// More set; 0 means 20s.
	MaxTime time.Duration
}

// CleanupResult is what a cleanup deleted, or a dry run would.
type CleanupResult struct {
	*store.PruneResult
	// DefaultRetention is the retention applied to pipelines that set
	// none.
	DefaultRetention time.Duration
}

// cleanupHolder names the holder of the retention job's lease while a
// person's cleanup runs.
const cleanupHolder = "cleanup by "

// Cleanup prunes finished runs past their retention now, as the
// schedulers' retention job does, or with DryRun says what would go. It
// takes the retention job's lease, so it never prunes alongside a
// scheduler; when a scheduler holds it, it refuses (409) rather than wait.
// It deletes in small batches and returns after MaxTime with More set:
// call it again to go on.
func (c *Control) Cleanup(ctx context.Context, p CleanupParams, by string) (*CleanupResult, error) {
	def, err := c.cleanupRetention(ctx, p.Retention)
	if err != nil {
		return nil, err
	}
	if p.PipelineID != "" {
		if _, err := c.st.PipelineGet(ctx, p.PipelineID); err != nil {
			return nil, err
		}
	}
	params := &store.RetentionParams{Default: def, PipelineID: p.PipelineID}
	if p.DryRun {
		res, err := c.st.RetentionPreview(ctx, params)
		if err != nil {
			return nil, err
		}
		return &CleanupResult{PruneResult: res, DefaultRetention: def}, nil
	}

	holder := cleanupHolder + by
	// Config "" leaves the schedulers' recorded settings as they are.
	ok, err := c.st.JobAcquire(ctx, &store.JobAcquireParams{Name: scheduler.RetentionJob, Holder: holder, Lease: time.Minute})
	if err != nil {
		return nil, err
	}
	if !ok {
		job, err := c.st.JobGet(ctx, scheduler.RetentionJob)
		if err != nil {
			return nil, err
		}
		return nil, sluice.Errorf(sluice.ECONFLICT, "retention is running now (%s holds it); try again in a minute", job.Holder)
	}
	// The preview's per-pipeline figures say which pipelines lose what;
	// the batches then delete it.
	preview, err := c.st.RetentionPreview(ctx, params)
	if err != nil {
		return nil, err
	}
	total := &store.PruneResult{Pipelines: preview.Pipelines, Rows: map[string]int64{}}
	maxTime := p.MaxTime
	if maxTime <= 0 {
		maxTime = 20 * time.Second
	}
	deadline := c.clock.Now().Add(maxTime)
	for {
		res, err := c.st.RetentionPrune(ctx, params)
		if err != nil {
			return nil, err
		}
		for kind, n := range res.Rows {
			total.Rows[kind] += n
		}
		total.LogBytes += res.LogBytes
		total.More = res.More
		if !res.More || !c.clock.Now().Before(deadline) {
			break
		}
		if held, err := c.st.JobRenew(ctx, scheduler.RetentionJob, holder, time.Minute); err != nil || !held {
			return nil, sluice.Errorf(sluice.ECONFLICT, "cleanup lost the retention job's lease; try again")
		}
	}
	summary := fmt.Sprintf("cleanup by %s pruned %d runs, %d task instances, %d attempts, %d log chunks (%d bytes), %d outputs, %d asset events",
		by, total.Rows["runs"], total.Rows["instances"], total.Rows["attempts"], total.Rows["log_chunks"], total.LogBytes, total.Rows["outputs"], total.Rows["asset_events"])
	if total.More {
		// Not done: leave the job due, so the schedulers carry on too.
		if _, err := c.st.JobRenew(ctx, scheduler.RetentionJob, holder, 0); err != nil {
			return nil, err
		}
	} else {
		vacuumed, err := c.st.RetentionVacuum(ctx)
		if err != nil {
			return nil, err
		}
		if vacuumed != "" {
			summary += "; " + vacuumed
		}
		if err := c.st.JobDone(ctx, scheduler.RetentionJob, holder, summary); err != nil {
			return nil, err
		}
	}
	c.logger(ctx).Info(summary, "more", total.More, "default_retention", def.String(), "pipeline", p.PipelineID)
	return &CleanupResult{PruneResult: total, DefaultRetention: def}, nil
}

// cleanupRetention is the default retention a cleanup applies: the one
// asked for, else the schedulers', else DefaultRetention.
func (c *Control) cleanupRetention(ctx context.Context, asked *time.Duration) (time.Duration, error) {
	if asked != nil {
		if *asked < 0 {
			return 0, sluice.Errorf(sluice.EINVALID, "retention must not be negative")
		}
		return *asked, nil
	}
	job, err := c.st.JobGet(ctx, scheduler.RetentionJob)
	if err != nil {
		return 0, err
	}
	if cfg, ok := scheduler.ParseRetentionConfig(job.Config); ok {
		return cfg.Default, nil
	}
	return DefaultRetention, nil
}
