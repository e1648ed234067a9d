package store

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice"
)

// Backfiller is the part of the store behind backfills.
type Backfiller interface {
	// BackfillCreate creates the runs of a backfill, one per logical date,
	// queued: they start as max_active_runs allows, oldest first. A date
	// that already has a scheduled run is skipped, or run again by Rerun:
	// "failed" reruns the failed tasks of a failed run, "all" every task of
	// a finished run.
	BackfillCreate(ctx context.Context, p *BackfillCreateParams) (*Backfill, error)
	// BackfillGet returns a backfill with the counts of its runs by state.
	BackfillGet(ctx context.Context, id int64) (*Backfill, error)
	// BackfillList returns a pipeline's backfills, newest first.
	BackfillList(ctx context.Context, pipelineID string) ([]*Backfill, error)
	// BackfillCancel cancels the queued and running runs of a backfill.
	BackfillCancel(ctx context.Context, id int64) error
}

// The rerun modes of a backfill.
const (
	RerunNone   = "none"
	RerunFailed = "failed"
	RerunAll    = "all"
)

// BackfillCreateParams are the arguments of Backfiller.BackfillCreate.
type BackfillCreateParams struct {
	PipelineID string
	From, To   time.Time
	// Dates are the logical dates, from the pipeline's schedule.
	Dates []time.Time
	Rerun string
	// Params are the runs' params (JSON).
	Params []byte
	By     string
}

// Backfill is a range of logical dates run after the fact.
type Backfill struct {
	ID         int64
	PipelineID string
	From, To   time.Time
	Rerun      string
	// State is running, done or cancelled.
	State     string
	CreatedBy string
	CreatedAt time.Time
	// Runs counts the backfill's runs by state; Skipped the dates left
	// alone because a run existed (set by BackfillCreate only).
	Runs    map[sluice.RunState]int
	Total   int
	Skipped int
}

// Finished counts the backfill's finished runs.
func (b *Backfill) Finished() int {
	return b.Runs[sluice.RunSuccess] + b.Runs[sluice.RunFailed] + b.Runs[sluice.RunCancelled]
}
