package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
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
	// Key, when not empty, makes the event once: a second event of the
	// asset with the same key returns the first (Repeat set) and starts
	// nothing. At most MaxEventKeyLen bytes.
	Key string
}

// AssetEventResult is what recording an asset event did.
type AssetEventResult struct {
	Event *AssetEvent
	// Runs are the runs the event started, one per pipeline it completed.
	Runs []*Run
	// Repeat is set when an event with the same key was recorded before:
	// Event is that one, and Runs is empty.
	Repeat bool
}

// AssetSource is the source of the trigger events of asset-triggered runs.
const AssetSource = "assets"

// AssetView is the read side of assets behind the Assets pages, the API's
// GET /api/v1/assets and `sluice assets list|show`: which assets exist,
// who produces and consumes them, what a pipeline scheduled on assets
// waits for, and what triggered a run.
type AssetView interface {
	// AssetList returns the known assets ordered by name: every asset a
	// task of a live version produces, a pipeline is scheduled on, or that
	// has an event. p bounds the list.
	AssetList(ctx context.Context, p *AssetListParams) ([]*AssetInfo, error)
	// AssetGet returns one known asset, or an ENOTFOUND error.
	AssetGet(ctx context.Context, name string) (*AssetInfo, error)
	// AssetConsumerStatus returns, for each asset the pipeline is scheduled
	// on (ordered by asset), the last event its runs consumed and the
	// newest event; empty for a pipeline not scheduled on assets.
	AssetConsumerStatus(ctx context.Context, pipelineID string) ([]*AssetConsumerState, error)
	// AssetEventsByID returns the events with the given ids that are still
	// stored, ordered by id.
	AssetEventsByID(ctx context.Context, ids []int64) ([]*AssetEvent, error)
	// RunTriggerList returns the trigger events recorded with a run (a
	// webhook delivery, the assets of an asset-triggered run), oldest
	// first; empty for a run no trigger event asked for.
	RunTriggerList(ctx context.Context, runID int64) ([]*RunTrigger, error)
}

// AssetListParams are the arguments of Store.AssetList.
type AssetListParams struct {
	// After lists only assets whose names sort after it: the last name of
	// the previous page.
	After string
	// Limit bounds the list; 0 means 500.
	Limit int
}

// AssetInfo is what is known about an asset.
type AssetInfo struct {
	Name string
	// Events counts the asset's stored events (retention prunes old
	// ones); LastEvent is the newest, nil without events.
	Events    int64
	LastEvent *AssetEvent
	// Producers are the tasks of live versions that list the asset under
	// produces:, ordered by pipeline and task.
	Producers []AssetProducer
	// Consumers are the pipelines scheduled on the asset, ordered by id.
	Consumers []string
}

// AssetProducer is a task that produces an asset.
type AssetProducer struct {
	PipelineID, TaskID string
}

// AssetConsumerState is where a pipeline scheduled on an asset stands
// with it.
type AssetConsumerState struct {
	Asset string
	// LastConsumedID is the newest event of the asset its asset-triggered
	// runs consumed (or that was newest when it began to wait); 0 for none.
	// LastConsumedAt is that event's time, nil when it is not stored.
	LastConsumedID int64
	LastConsumedAt *time.Time
	// NewestID and NewestAt are the asset's newest event; 0 and nil
	// without events.
	NewestID int64
	NewestAt *time.Time
}

// Fresh reports whether the asset has an event the pipeline has not
// consumed yet.
func (s *AssetConsumerState) Fresh() bool { return s.NewestID > s.LastConsumedID }

// RunTrigger is a trigger event recorded with a run.
type RunTrigger struct {
	Source, Key string
	ReceivedAt  time.Time
}

// ConsumedEvent is an asset and the newest event of it that an
// asset-triggered run consumed.
type ConsumedEvent struct {
	Asset   string
	EventID int64
}

// ParseAssetKey reads the key of an asset-triggered run's trigger event
// (source AssetSource), "a:12,b:15": each asset with the newest event of
// it the run consumed. An asset name holds no comma but may hold colons,
// so the id is after the last one. A hashed key (of a very long list)
// and parts it cannot read name nothing.
func ParseAssetKey(key string) []ConsumedEvent {
	var out []ConsumedEvent
	for _, part := range strings.Split(key, ",") {
		i := strings.LastIndexByte(part, ':')
		if i <= 0 || strings.ContainsAny(part[:i], " \t\n") {
			continue
		}
		id, err := strconv.ParseInt(part[i+1:], 10, 64)
		if err != nil || id <= 0 {
			continue
		}
		out = append(out, ConsumedEvent{Asset: part[:i], EventID: id})
	}
	return out
}
