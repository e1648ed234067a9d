package store

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice"
)

// Browse is the part of the store that lists across pipelines with
// filters, for the pipelines list and the Browse pages: every filter is
// applied in SQL, on indexed columns, so that a list of a thousand
// pipelines stays fast.
type Browse interface {
	// PipelineSearch returns the pipelines that pass every filter of p,
	// ordered by id.
	PipelineSearch(ctx context.Context, p *PipelineSearchParams) ([]*Pipeline, error)
	// RunListRecentFor returns the newest runs of the pipelines ids, up to
	// perPipeline each, newest first, keyed by pipeline id, in brief:
	// only ID, PipelineID, Kind, LogicalDate and State are set, which is
	// what lists of pipelines show.
	RunListRecentFor(ctx context.Context, ids []string, perPipeline int) (map[string][]*Run, error)
	// PipelineTagList returns every tag of a pipeline's live version,
	// sorted.
	PipelineTagList(ctx context.Context) ([]string, error)
	// InstanceBrowse returns task instances across runs and pipelines
	// that pass every filter of p, newest first.
	InstanceBrowse(ctx context.Context, p *InstanceBrowseParams) ([]*BrowsedInstance, error)
}

// InstanceBrowseParams are the filters of Store.InstanceBrowse.
type InstanceBrowseParams struct {
	// PipelineID keeps the instances of one pipeline, when not empty.
	PipelineID string
	// States keeps the instances in these states, when not empty.
	States []sluice.InstanceState
	// Tags keeps instances of pipelines with any of these tags.
	Tags []string
	// Since and Until (exclusive) bound the logical date of the run.
	Since, Until *time.Time
	// BeforeID returns instances with smaller ids, for paging.
	BeforeID int64
	// Limit is the page size; default 100.
	Limit int
}

// BrowsedInstance is a task instance with what a list across runs shows
// of its run.
type BrowsedInstance struct {
	Instance
	PipelineID  string
	LogicalDate time.Time
	RunState    sluice.RunState
}

// PipelineSearchParams are the filters of Store.PipelineSearch; the zero
// value lists every pipeline.
type PipelineSearchParams struct {
	// Tags keeps the pipelines with any of these tags, when not empty.
	Tags []string
	// LastStates keeps the pipelines whose newest run is in one of these
	// states, when not empty; NoRuns stands for a pipeline without runs.
	LastStates []sluice.RunState
	// Paused keeps paused (true) or active (false) pipelines, when set.
	Paused *bool
	// Search keeps the pipelines whose id or description contains it,
	// ignoring case, when not empty.
	Search string
}

// NoRuns is the "last state" of a pipeline that has no runs, for
// PipelineSearchParams.LastStates.
const NoRuns sluice.RunState = "none"
