package store

import (
	"context"
	"time"
)

// Assets is the part of the store behind data-aware scheduling. An asset
// is a name (warehouse.orders); a task that produces it records an asset
// event each time it succeeds (in the transaction of AttemptComplete), and
// a pipeline scheduled on assets gets a run, in that same transaction, as
// soon as every asset it waits for has an event newer than the ones its
// last asset-triggered run consumed.
type Assets interface {
	// AssetEventCreate records an event of an asset from outside (the API)
	// and starts the runs of the pipelines it completes.
	AssetEventCreate(ctx context.Context, p *AssetEventCreateParams) (*AssetEventResult, error)
	// AssetEventList returns the newest events of an asset, newest first,
	// at most limit (default 100).
	AssetEventList(ctx context.Context, asset string, limit int) ([]*AssetEvent, error)
}

// AssetEvent is one update of an asset.
type AssetEvent struct {
	ID    int64
	Asset string
	// PipelineID, RunID and TaskID name the task that produced the event;
	// empty (and RunID nil) for an event from outside.
	PipelineID string
	RunID      *int64
	TaskID     string
	// Extra is a JSON object of key=values that came with the event.
	Extra     []byte
	CreatedAt time.Time
}

// AssetEventCreateParams are the arguments of Store.AssetEventCreate.
type AssetEventCreateParams struct {
	Asset string
	// Extra is a JSON object; nil for {}.
	Extra []byte
}

// AssetEventResult is what recording an asset event did.
type AssetEventResult struct {
	Event *AssetEvent
	// Runs are the runs the event started, one per pipeline it completed.
	Runs []*Run
}

// AssetSource is the source of the trigger events of asset-triggered runs.
const AssetSource = "assets"
