// Package versions keeps the decoded pipeline versions that the roles of
// one process read: the scheduler plans runs with them and the worker runs
// their tasks. Versions are immutable, so a cached copy is always right.
//
// sluice server runs both roles in one process; with one Cache they
// decode each version once and hold it once. A version of 10,000 tasks
// reads a 3 MB spec and decodes to megabytes, and the scheduler and the
// worker used to each read and hold their own copy, at the same moment
// (when its first run starts): most of a 10,000-task run's peak memory
// (bench/RESULTS.md, 2026-12-04 night).
package versions

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// Version is a decoded pipeline version.
type Version struct {
	Pipeline *pipeline.Pipeline
	// Hash is the version's hash, File the pipeline file it was loaded
	// from ("" for one uploaded through the API).
	Hash, File string
}

// A Cache keeps every version asked for in the last Idle, however many
// there are. It used to be cleared whole past 1,024 entries: with 2,000
// pipelines the scheduler missed on every pass, and reading and decoding a
// version per due pipeline took 80% of its CPU (bench/RESULTS.md,
// 2026-12-04).
const (
	// MinCached is how many versions are kept before any is dropped.
	MinCached = 1024
	// Idle is how long a version nobody asked for is kept past MinCached.
	Idle = 10 * time.Minute
)

// Cache is a cache of decoded versions, safe for concurrent use.
type Cache struct {
	st  store.Store
	now func() time.Time

	mu sync.Mutex
	m  map[int64]*entry
	// max is how many versions may be cached before the ones unused for
	// Idle are dropped.
	max int
}

// entry loads once, however many callers ask at the same time: a fan-out
// of thousands of tasks must not decode a large version thousands of
// times.
type entry struct {
	once sync.Once
	v    *Version
	err  error
	used time.Time
}

// New returns a Cache of the versions of st.
func New(st store.Store) *Cache {
	return &Cache{st: st, now: time.Now, m: map[int64]*entry{}, max: MinCached}
}

// Get returns version id, reading and decoding it on first use. A failure
// is not cached. A version whose spec does not decode is an EINVALID error.
func (c *Cache) Get(ctx context.Context, id int64) (*Version, error) {
	now := c.now()
	c.mu.Lock()
	e := c.m[id]
	if e == nil {
		if len(c.m) >= c.max {
			// Drop what nobody used lately (old versions, deleted
			// pipelines), and leave room to grow to twice what is left.
			for vid, old := range c.m {
				if now.Sub(old.used) > Idle {
					delete(c.m, vid)
				}
			}
			c.max = max(MinCached, 2*len(c.m))
		}
		e = &entry{}
		c.m[id] = e
	}
	e.used = now
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = c.load(ctx, id) })
	if e.err != nil {
		c.mu.Lock()
		if c.m[id] == e {
			delete(c.m, id)
		}
		c.mu.Unlock()
	}
	return e.v, e.err
}

func (c *Cache) load(ctx context.Context, id int64) (*Version, error) {
	sv, err := c.st.VersionGet(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Decode(sv.Spec)
	if err != nil {
		return nil, sluice.Errorf(sluice.EINVALID, "version %d does not decode: %v", id, err)
	}
	return &Version{Pipeline: p, Hash: sv.Hash, File: sv.File}, nil
}
