package control

import (
	"context"
	"sort"

	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// maxChildren bounds the runs Children reads per child pipeline: a
// pipeline: task makes one child per attempt (or per item when mapped).
const maxChildren = 500

// Children returns the runs that the pipeline: tasks of a run started,
// oldest first. p is the run's version, decoded; nil decodes it.
//
// A child run has its parent's logical date, so it is found among the
// runs of its pipeline for that date: the store needs no index by parent.
func (c *Control) Children(ctx context.Context, run *store.Run, p *pipeline.Pipeline) ([]*store.Run, error) {
	if p == nil {
		var err error
		if p, err = c.Version(ctx, run.VersionID); err != nil {
			return nil, err
		}
	}
	var out []*store.Run
	seen := map[string]bool{}
	for _, t := range p.Tasks {
		if t.Kind != pipeline.KindPipeline || seen[t.Pipeline] {
			continue
		}
		seen[t.Pipeline] = true
		date := run.LogicalDate
		runs, err := c.st.RunList(ctx, &store.RunListParams{PipelineID: t.Pipeline, LogicalDate: &date, Limit: maxChildren})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.ParentRunID != nil && *r.ParentRunID == run.ID {
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
