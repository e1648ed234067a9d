package store

import (
	"context"
	"encoding/json"
	"time"
)

// Assets is the part of the store behind data-aware scheduling. An asset
// is a name (warehouse.orders); a task that produces it records an asset
// event each time it succeeds (in the transaction of AttemptComplete), and
// a pipeline scheduled on assets gets a run, in that same transaction, as
// soon as its condition holds: every asset it waits for (or, with any: and
// all:, the ones its condition needs) has an event newer than the ones its
// last asset-triggered run consumed.
type Assets interface {
	// AssetEventCreate records an event of an asset from outside (the API)
	// and starts the runs of the pipelines it completes.
	AssetEventCreate(ctx context.Context, p *AssetEventCreateParams) (*AssetEventResult, error)
	// AssetEventList returns the newest events of an asset, newest first,
	// at most limit (default 100).
	AssetEventList(ctx context.Context, asset string, limit int) ([]*AssetEvent, error)
	// RunTriggerEvents returns the asset events a run consumed, oldest
	// first per asset; none (and no error) for a run not started by
	// assets, ENOTFOUND for a run that does not exist.
	RunTriggerEvents(ctx context.Context, runID int64) ([]*AssetEvent, error)
	// PipelineSetAssetWarnings records the warnings about the asset links
	// between pipelines (by pipeline id, one per line) and clears those
	// of every pipeline not in warnings. Pipelines that do not exist are
	// left out.
	PipelineSetAssetWarnings(ctx context.Context, warnings map[string]string) error
}

// AssetEvent is one update of an asset. Its JSON is what a run sees of
// the events that started it (${{ trigger.events }}, $SLUICE_TRIGGER_EVENTS).
type AssetEvent struct {
	ID    int64  `json:"id"`
	Asset string `json:"asset"`
	// PipelineID, RunID and TaskID name the task that produced the event;
	// empty (and RunID nil) for an event from outside.
	PipelineID string `json:"pipeline"`
	RunID      *int64 `json:"run"`
	TaskID     string `json:"task"`
	// Extra is a JSON object of key=values that came with the event.
	Extra     json.RawMessage `json:"extra"`
	CreatedAt time.Time       `json:"created_at"`
}

// MaxTriggerEventsPerAsset bounds the events of one asset that a run
// records as consumed: the newest ones. A producer that ran a thousand
// times since the consumer's last run gives it the last 100.
const MaxTriggerEventsPerAsset = 100

// MaxTriggerEventsJSON bounds the JSON of the events a run consumed
// ($SLUICE_TRIGGER_EVENTS must fit one environment variable): past it,
// the oldest events are left out, an asset's newest last.
const MaxTriggerEventsJSON = 96 << 10

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
