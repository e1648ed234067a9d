package store

import (
	"context"
	"time"
)

// Retention is the part of the store that keeps the database from
// growing without bound: it prunes finished runs past their pipeline's
// retention, and leases periodic jobs so that one scheduler at a time runs
// each, whichever it is.
type Retention interface {
	// JobAcquire takes the lease of the periodic job name for holder when
	// no one holds it and it last finished at least every ago. It reports
	// whether holder now holds it.
	JobAcquire(ctx context.Context, p *JobAcquireParams) (bool, error)
	// JobRenew extends holder's lease; false when holder lost it.
	JobRenew(ctx context.Context, name, holder string, lease time.Duration) (bool, error)
	// JobDone records that holder finished the job, with a summary, and
	// releases the lease.
	JobDone(ctx context.Context, name, holder, result string) error
	// JobGet returns when a job last finished and what it did; a job that
	// never ran has a zero LastDoneAt.
	JobGet(ctx context.Context, name string) (*Job, error)

	// RetentionPrune deletes at most p.Batch finished runs older than
	// their pipeline's retention, with their instances, attempts, logs,
	// outputs and callbacks, in one short transaction; and expired
	// sessions and old login failures; and asset events older than the
	// default retention, except each asset's newest and those a consumer
	// has not consumed yet. Runs that are not finished are never pruned.
	// Result.More says whether more runs (or events) are due.
	RetentionPrune(ctx context.Context, p *RetentionParams) (*PruneResult, error)
	// RetentionPreview counts what RetentionPrune would delete, without
	// deleting anything.
	RetentionPreview(ctx context.Context, p *RetentionParams) (*PruneResult, error)
	// RetentionVacuum reclaims the space of deleted and updated rows when
	// the database would not do it by itself: on PostgreSQL with
	// autovacuum turned off, a plain VACUUM (which blocks no reads or
	// writes) of the busy tables. It says what it did; "" when nothing
	// was needed (autovacuum on, or SQLite, which reuses freed pages).
	RetentionVacuum(ctx context.Context) (string, error)
}

// JobAcquireParams are the arguments of Retention.JobAcquire.
type JobAcquireParams struct {
	Name   string
	Holder string
	Lease  time.Duration
	Every  time.Duration
	// Config is recorded whether or not the lease is taken: the settings
	// the job runs with, for other processes to show. "" leaves what is
	// recorded.
	Config string
}

// Job is a periodic job's last outcome.
type Job struct {
	Name       string
	Holder     string
	LastDoneAt time.Time
	LastResult string
	Config     string
}

// RetentionParams are the arguments of RetentionPrune and
// RetentionPreview.
type RetentionParams struct {
	// Default is the retention of pipelines that set none; 0 keeps their
	// runs forever.
	Default time.Duration
	// Batch bounds the runs one RetentionPrune deletes; default 100.
	Batch int
	// PipelineID limits pruning to one pipeline; empty for all.
	PipelineID string
}

// PruneResult is what a prune deleted, or a preview would.
type PruneResult struct {
	Pipelines []*PrunePipeline
	// Rows by kind: runs, instances, attempts, log_chunks, outputs,
	// callbacks, sessions, asset_events (older than the default retention
	// and needed by no consumer; see RetentionPrune).
	Rows map[string]int64
	// LogBytes is the size of the log chunks.
	LogBytes int64
	// More says whether runs beyond the batch are due (prune only).
	More bool
}

// PrunePipeline is one pipeline's part of a prune.
type PrunePipeline struct {
	ID        string
	Retention time.Duration
	// Cutoff is the time before which finished runs go.
	Cutoff time.Time
	Runs   int64
	// Oldest is the finish time of the oldest run that goes.
	Oldest *time.Time
}
