package store

import (
	"context"
	"time"
)

// Lifecycle is the part of the store that tells whether work can run:
// which workers are alive with which labels, pipelines whose file is gone,
// and ready instances that nothing can start.
type Lifecycle interface {
	// WorkerUpsert records a worker as alive now, with what it offers.
	WorkerUpsert(ctx context.Context, w *WorkerInfo) error
	// WorkerRemove forgets a worker that stopped.
	WorkerRemove(ctx context.Context, id string) error
	// WorkerList returns the workers, by id.
	WorkerList(ctx context.Context) ([]*WorkerInfo, error)
	// WorkerPrune forgets workers not seen since before.
	WorkerPrune(ctx context.Context, before time.Time) (int, error)

	// PipelineSetMissing marks a pipeline whose file left the pipelines
	// folder (no new runs; its history stays), or no longer missing.
	PipelineSetMissing(ctx context.Context, id string, missing bool) error

	// InstanceListWaiting returns instances claimable since before (queued,
	// up for retry or reschedule) that no worker has claimed, oldest first.
	InstanceListWaiting(ctx context.Context, before time.Time, limit int) ([]*WaitingInstance, error)
	// InstanceSetBlocked records why instances cannot start; an empty
	// reason clears it.
	InstanceSetBlocked(ctx context.Context, reasons map[int64]string) error
	// InstanceFailBlocked fails instances that are still waiting, with
	// their reason, as if their last attempt had failed for good.
	InstanceFailBlocked(ctx context.Context, reasons map[int64]string) error
}

// WorkerInfo is a live worker as it announced itself.
type WorkerInfo struct {
	ID          string
	Hostname    string
	PID         int
	Labels      []string
	Concurrency int
	Version     string
	Draining    bool
	// Problems are what the worker's environment check found at start.
	Problems   []string
	StartedAt  time.Time
	LastSeenAt time.Time
}

// WaitingInstance is a ready instance that has not started.
type WaitingInstance struct {
	ID            int64
	RunID         int64
	PipelineID    string
	TaskID        string
	MapIndex      int
	Pool          string
	PoolSlots     int
	Requires      []string
	ReadyAt       time.Time
	QueuedTimeout time.Duration
	Blocked       string
}

// Stats is the state of the store's work at one moment, for metrics.
type Stats struct {
	// Ready counts claimable instances by pool ("" for none).
	Ready map[string]int
	// Running counts running instances by pool.
	Running map[string]int
	// Blocked counts ready instances nothing can start.
	Blocked int
	// ActiveRuns counts queued and running runs by state.
	ActiveRuns map[string]int
	// PipelinesWithErrors counts pipelines whose file does not parse.
	PipelinesWithErrors int
	// PoolSlots is the slots of each pool.
	PoolSlots map[string]int
}

// StatsReader is implemented by stores that can summarize their work.
type StatsReader interface {
	StatsGet(ctx context.Context) (*Stats, error)
}
