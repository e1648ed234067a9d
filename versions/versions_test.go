package versions_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/versions"
)

// counting counts the versions read from its store.
type counting struct {
	store.Store
	reads atomic.Int64
}

func (c *counting) VersionGet(ctx context.Context, id int64) (*store.Version, error) {
	c.reads.Add(1)
	return c.Store.VersionGet(ctx, id)
}

// TestCacheReadsEachVersionOnce checks that callers at the same time and
// after get one decoded copy, read from the store once, and that a
// version that is not there is an error that is not kept.
func TestCacheReadsEachVersionOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := []byte("id: p\ntasks:\n  a: {run: echo a}\n  b: {run: echo b, depends_on: a}\n")
	p, err := pipeline.Parse("p.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, src, "/pipelines/p.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cs := &counting{Store: st}
	c := versions.New(cs)
	var wg sync.WaitGroup
	got := make([]*versions.Version, 8)
	for i := range got {
		wg.Go(func() {
			v, err := c.Get(ctx, saved.VersionID)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	v := got[0]
	for _, g := range got {
		if g != v {
			t.Fatal("callers got different copies of one version")
		}
	}
	if n := cs.reads.Load(); n != 1 {
		t.Fatalf("%d reads of the version, want 1", n)
	}
	if v.Hash != p.Hash() || v.File != "/pipelines/p.yaml" || len(v.Pipeline.Tasks) != 2 {
		t.Fatalf("version = hash %s file %q, %d tasks", v.Hash, v.File, len(v.Pipeline.Tasks))
	}
	for range 2 {
		if _, err := c.Get(ctx, saved.VersionID+100); sluice.ErrorCode(err) != sluice.ENOTFOUND {
			t.Fatalf("Get of a version that is not there: %v", err)
		}
	}
	if n := cs.reads.Load(); n != 3 {
		t.Fatalf("%d reads, want 3: a failure is not kept", n)
	}
}
