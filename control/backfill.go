package control

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
)

// MaxBackfillRuns bounds the runs one backfill may create.
const MaxBackfillRuns = 10000

// BackfillDates returns the logical dates of a pipeline's schedule from
// from to to, both included.
func (c *Control) BackfillDates(ctx context.Context, pipelineID string, from, to time.Time) ([]time.Time, error) {
	_, p, err := c.Pipeline(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version", pipelineID)
	}
	if p.Schedule == "" {
		return nil, sluice.Errorf(sluice.EINVALID, "pipeline %q has no schedule, so it has no dates to backfill: trigger runs instead", pipelineID)
	}
	if to.Before(from) {
		return nil, sluice.Errorf(sluice.EINVALID, "--to %s is before --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	var dates []time.Time
	at, ok := scheduler.NextFire(p, from.Add(-time.Nanosecond))
	for ok && !at.After(to) {
		if len(dates) == MaxBackfillRuns {
			return nil, sluice.Errorf(sluice.EINVALID, "the range holds more than %d runs: backfill it in parts", MaxBackfillRuns)
		}
		dates = append(dates, at)
		at, ok = scheduler.NextFire(p, at)
	}
	return dates, nil
}

// Backfill creates the runs of a pipeline for the logical dates of its
// schedule between from and to; they start as max_active_runs allows. See
// store.Backfiller for rerun.
func (c *Control) Backfill(ctx context.Context, pipelineID string, from, to time.Time, rerun, by string) (*store.Backfill, error) {
	dates, err := c.BackfillDates(ctx, pipelineID, from, to)
	if err != nil {
		return nil, err
	}
	_, p, err := c.Pipeline(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	params, err := p.BindParams(nil)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	b, err := c.st.BackfillCreate(ctx, &store.BackfillCreateParams{PipelineID: pipelineID, From: from, To: to, Dates: dates, Rerun: rerun, Params: raw, By: by})
	if err == nil {
		c.logger(ctx).Info("backfill created", "pipeline", pipelineID, "backfill", b.ID, "runs", b.Total, "skipped", b.Skipped, "by", by)
	}
	return b, err
}
