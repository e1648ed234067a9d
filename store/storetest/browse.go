package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// saveTagged saves a one-task pipeline with a description and tags.
func (b *testBundle) saveTagged(id, desc string, tags ...string) {
	b.t.Helper()
	_, err := b.s.PipelineSave(b.ctx, &store.PipelineSaveParams{
		ID: id, Hash: id + desc + fmtTags(tags), Source: "id: " + id, Spec: []byte(`{"id":"` + id + `"}`),
		MaxActiveRuns: 5, Tasks: []store.VersionTask{{TaskID: "a"}}, Description: desc, Tags: tags,
	})
	if err != nil {
		b.t.Fatalf("PipelineSave %s: %v", id, err)
	}
}

func fmtTags(tags []string) string {
	s := ""
	for _, t := range tags {
		s += "," + t
	}
	return s
}

func searchIDs(t *testing.T, b *testBundle, p store.PipelineSearchParams) []string {
	t.Helper()
	list, err := b.s.PipelineSearch(b.ctx, &p)
	if err != nil {
		t.Fatalf("PipelineSearch %+v: %v", p, err)
	}
	ids := []string{}
	for _, sp := range list {
		ids = append(ids, sp.ID)
	}
	return ids
}

func testPipelineSearch(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveTagged("orders_daily", "Load the orders", "finance", "orders")
	b.saveTagged("marketing", "Campaign ORDERS report", "marketing")
	b.saveTagged("idle", "")
	b.saveTagged("axb", "")
	if err := b.s.PipelineSetPaused(b.ctx, "idle", true); err != nil {
		t.Fatal(err)
	}
	// orders_daily's newest run failed, marketing's succeeded; idle and
	// axb have none.
	b.createRun("orders_daily", "r1")
	b.mustComplete(b.claimOne("a"), sluice.AttemptFailed)
	b.createRun("marketing", "r1")
	b.mustComplete(b.claimOne("a"), sluice.AttemptSuccess)

	paused, active := true, false
	for _, tc := range []struct {
		name string
		p    store.PipelineSearchParams
		want []string
	}{
		{"all", store.PipelineSearchParams{}, []string{"axb", "idle", "marketing", "orders_daily"}},
		{"tag", store.PipelineSearchParams{Tags: []string{"finance"}}, []string{"orders_daily"}},
		{"any tag", store.PipelineSearchParams{Tags: []string{"finance", "marketing"}}, []string{"marketing", "orders_daily"}},
		{"failed", store.PipelineSearchParams{LastStates: []sluice.RunState{sluice.RunFailed}}, []string{"orders_daily"}},
		{"no runs", store.PipelineSearchParams{LastStates: []sluice.RunState{store.NoRuns}}, []string{"axb", "idle"}},
		{"paused", store.PipelineSearchParams{Paused: &paused}, []string{"idle"}},
		{"active", store.PipelineSearchParams{Paused: &active}, []string{"axb", "marketing", "orders_daily"}},
		{"search id and description, any case", store.PipelineSearchParams{Search: "Orders"}, []string{"marketing", "orders_daily"}},
		{"search escapes wildcards", store.PipelineSearchParams{Search: "a_b"}, []string{}},
		{"every filter", store.PipelineSearchParams{Tags: []string{"orders"}, LastStates: []sluice.RunState{sluice.RunFailed}, Paused: &active, Search: "load"}, []string{"orders_daily"}},
	} {
		if got := searchIDs(t, b, tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	list, _ := b.s.PipelineSearch(b.ctx, &store.PipelineSearchParams{Search: "orders_daily"})
	if len(list) != 1 || list[0].Description != "Load the orders" || !slices.Equal(list[0].Tags, []string{"finance", "orders"}) {
		t.Fatalf("orders_daily = %+v", list[0])
	}
	// A new version's tags replace the old ones.
	b.saveTagged("orders_daily", "Load the orders", "orders")
	if got := searchIDs(t, b, store.PipelineSearchParams{Tags: []string{"finance"}}); len(got) != 0 {
		t.Errorf("finance after the tag was removed: %v", got)
	}
	sp, err := b.s.PipelineGet(b.ctx, "orders_daily")
	if err != nil || !slices.Equal(sp.Tags, []string{"orders"}) {
		t.Fatalf("PipelineGet: tags %v, %v", sp.Tags, err)
	}
	if tags, err := b.s.PipelineTagList(b.ctx); err != nil || !slices.Equal(tags, []string{"marketing", "orders"}) {
		t.Fatalf("PipelineTagList = %v, %v", tags, err)
	}
	recent, err := b.s.RunListRecentFor(b.ctx, []string{"marketing", "idle"}, 10)
	if err != nil || len(recent["marketing"]) != 1 || len(recent) != 1 {
		t.Fatalf("RunListRecentFor = %v, %v", recent, err)
	}
	// The brief runs carry what lists show, each under its own pipeline,
	// newest first, the same as RunList's.
	b.clock.Advance(time.Hour)
	r2 := b.createRun("orders_daily", "r2")
	recent, err = b.s.RunListRecentFor(b.ctx, []string{"orders_daily", "idle", "marketing"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"orders_daily", "marketing"} {
		full, err := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: id, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(recent[id]) != len(full) {
			t.Fatalf("RunListRecentFor[%s] has %d runs, RunList %d", id, len(recent[id]), len(full))
		}
		for i, r := range recent[id] {
			f := full[i]
			if r.ID != f.ID || r.PipelineID != id || r.Kind != f.Kind || !r.LogicalDate.Equal(f.LogicalDate) || r.State != f.State {
				t.Errorf("RunListRecentFor[%s][%d] = %+v, RunList has %+v", id, i, r, f)
			}
		}
	}
	if od := recent["orders_daily"]; len(od) != 2 || od[0].ID != r2.ID || od[0].State != r2.State || od[1].State != sluice.RunFailed {
		t.Errorf("orders_daily's recent runs = %+v, %+v; want r2 (%s), then the failed r1", od[0], od[len(od)-1], r2.State)
	}
}

func testBrowse(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveTagged("p", "", "nightly")
	b.saveTagged("q", "", "hourly")
	start := b.clock.Now()
	b.createRun("p", "old") // at start
	b.mustComplete(b.claimOne("a"), sluice.AttemptFailed)
	b.clock.Advance(24 * time.Hour)
	pNew := b.createRun("p", "new")
	b.mustComplete(b.claimOne("a"), sluice.AttemptSuccess)
	qNew := b.createRun("q", "new")
	qc := b.claimOne("a")
	b.mustComplete(qc, sluice.AttemptFailed)

	since := start.Add(time.Hour)
	runIDs := func(p store.RunListParams) []int64 {
		t.Helper()
		runs, err := b.s.RunList(b.ctx, &p)
		if err != nil {
			t.Fatalf("RunList %+v: %v", p, err)
		}
		ids := []int64{}
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := runIDs(store.RunListParams{Since: &since}); !slices.Equal(got, []int64{qNew.ID, pNew.ID}) {
		t.Errorf("runs since: %v", got)
	}
	if got := runIDs(store.RunListParams{Until: &since}); len(got) != 1 {
		t.Errorf("runs until: %v", got)
	}
	if got := runIDs(store.RunListParams{Tags: []string{"hourly"}}); !slices.Equal(got, []int64{qNew.ID}) {
		t.Errorf("runs tagged hourly: %v", got)
	}
	if got := runIDs(store.RunListParams{States: []sluice.RunState{sluice.RunFailed}, Since: &since}); !slices.Equal(got, []int64{qNew.ID}) {
		t.Errorf("failed runs since: %v", got)
	}

	browse := func(p store.InstanceBrowseParams) []*store.BrowsedInstance {
		t.Helper()
		list, err := b.s.InstanceBrowse(b.ctx, &p)
		if err != nil {
			t.Fatalf("InstanceBrowse %+v: %v", p, err)
		}
		return list
	}
	failed := []sluice.InstanceState{sluice.InstanceFailed}
	if got := browse(store.InstanceBrowseParams{States: failed}); len(got) != 2 || got[0].RunID != qNew.ID || got[0].PipelineID != "q" || got[0].TaskID != "a" || got[0].RunState != sluice.RunFailed || !got[0].LogicalDate.Equal(qNew.LogicalDate) || got[0].Attempts != 1 {
		t.Errorf("failed instances: %+v", got)
	}
	if got := browse(store.InstanceBrowseParams{States: failed, Since: &since}); len(got) != 1 || got[0].RunID != qNew.ID {
		t.Errorf("failed since: %+v", got)
	}
	if got := browse(store.InstanceBrowseParams{Tags: []string{"nightly"}}); len(got) != 2 || got[0].PipelineID != "p" {
		t.Errorf("tagged nightly: %+v", got)
	}
	if got := browse(store.InstanceBrowseParams{PipelineID: "p", States: failed}); len(got) != 1 || got[0].RunID == qNew.ID {
		t.Errorf("failed of p: %+v", got)
	}
	page := browse(store.InstanceBrowseParams{Limit: 2})
	if len(page) != 2 {
		t.Fatalf("page 1: %d", len(page))
	}
	if rest := browse(store.InstanceBrowseParams{BeforeID: page[1].ID}); len(rest) != 1 || rest[0].ID >= page[1].ID {
		t.Errorf("page 2: %+v", rest)
	}
}
