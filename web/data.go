package web

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// versionCache keeps decoded versions. Versions never change, so an entry
// is never stale; the cache is emptied when it is full.
type versionCache struct {
	mu  sync.Mutex
	max int
	m   map[int64]*pipeline.Pipeline
}

func newVersionCache(max int) *versionCache {
	return &versionCache{max: max, m: map[int64]*pipeline.Pipeline{}}
}

// version returns a decoded version; nil for id 0 (no valid version).
func (w *Web) versionOf(ctx context.Context, id int64) (*pipeline.Pipeline, error) {
	if id == 0 {
		return nil, nil
	}
	c := w.versions
	c.mu.Lock()
	p, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := w.ctl.Version(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = map[int64]*pipeline.Pipeline{}
	}
	c.m[id] = p
	c.mu.Unlock()
	return p, nil
}

// pipelineOf loads a stored pipeline and its live version (nil when it has
// none).
func (w *Web) pipelineOf(ctx context.Context, id string) (*store.Pipeline, *pipeline.Pipeline, error) {
	sp, err := w.st.PipelineGet(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	p, err := w.versionOf(ctx, sp.VersionID)
	return sp, p, err
}

// pathID parses a numeric path value.
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, sluice.Errorf(sluice.ENOTFOUND, "there is nothing at %s: %q is not a number", r.URL.Path, s)
	}
	return id, nil
}

// taskOrder returns the task ids of a version in topological order, then
// any other ids (from runs of other versions) sorted.
func taskOrder(p *pipeline.Pipeline, extra map[string]bool) []string {
	var ids []string
	seen := map[string]bool{}
	if p != nil {
		for _, id := range p.TopoOrder() {
			ids = append(ids, id)
			seen[id] = true
		}
	}
	var rest []string
	for id := range extra {
		if !seen[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(ids, rest...)
}
