package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testAssetView checks the read side of assets: the list of known assets
// with their producers, consumers and last events, one asset, where a
// consumer stands with each of its assets, and what triggered a run.
func testAssetView(t *testing.T, open Opener) {
	b := setup(t, open)
	// Names may hold / : @ + = and LIKE's wildcards.
	const odd = "s3://bucket/k@v1+x=y"
	b.save("producer", 5, task{id: "load", produces: []string{"warehouse.orders", "x%y"}}, task{id: "more", up: []string{"load"}, produces: []string{"warehouse.orders"}})
	b.saveWith("report", pipelineOpts{maxActiveRuns: 5, assets: []string{"warehouse.orders", odd}}, task{id: "r"})

	list := func(p *store.AssetListParams) []*store.AssetInfo {
		t.Helper()
		as, err := b.s.AssetList(b.ctx, p)
		if err != nil {
			t.Fatalf("AssetList(%+v): %v", p, err)
		}
		return as
	}
	names := func(as []*store.AssetInfo) string {
		var n []string
		for _, a := range as {
			n = append(n, a.Name)
		}
		return strings.Join(n, " ")
	}
	all := list(&store.AssetListParams{})
	if got, want := names(all), odd+" warehouse.orders x%y"; got != want {
		t.Fatalf("assets = %q, want %q", got, want)
	}
	wo := all[1]
	wantProducers := []store.AssetProducer{{PipelineID: "producer", TaskID: "load"}, {PipelineID: "producer", TaskID: "more"}}
	if !reflect.DeepEqual(wo.Producers, wantProducers) || !reflect.DeepEqual(wo.Consumers, []string{"report"}) || wo.Events != 0 || wo.LastEvent != nil {
		t.Fatalf("warehouse.orders = %+v, want produced by load and more, consumed by report, no events", wo)
	}
	if len(all[0].Producers) != 0 || len(all[2].Consumers) != 0 {
		t.Fatalf("odd = %+v, x%%y = %+v", all[0], all[2])
	}
	// Pages.
	if got := names(list(&store.AssetListParams{Limit: 2})); got != odd+" warehouse.orders" {
		t.Fatalf("first page = %q", got)
	}
	if got := names(list(&store.AssetListParams{After: "warehouse.orders", Limit: 2})); got != "x%y" {
		t.Fatalf("page after warehouse.orders = %q", got)
	}

	status := func() map[string]*store.AssetConsumerState {
		t.Helper()
		ss, err := b.s.AssetConsumerStatus(b.ctx, "report")
		if err != nil {
			t.Fatalf("AssetConsumerStatus: %v", err)
		}
		m := map[string]*store.AssetConsumerState{}
		for _, s := range ss {
			m[s.Asset] = s
		}
		if len(ss) != 2 || m[odd] == nil || m["warehouse.orders"] == nil {
			t.Fatalf("status = %+v, want one per asset", ss)
		}
		return m
	}
	if s := status(); s[odd].Fresh() || s["warehouse.orders"].Fresh() || s[odd].NewestAt != nil || s[odd].LastConsumedAt != nil {
		t.Fatalf("status before events = %+v %+v", s[odd], s["warehouse.orders"])
	}
	if ss, err := b.s.AssetConsumerStatus(b.ctx, "producer"); err != nil || len(ss) != 0 {
		t.Fatalf("status of a pipeline not on assets = %+v, %v", ss, err)
	}

	// The producer's success makes warehouse.orders fresh for report; the
	// other asset still lacks an event.
	run := b.createRun("producer", "p1")
	b.mustComplete(b.claimOne("load"), sluice.AttemptSuccess)
	s := status()
	if !s["warehouse.orders"].Fresh() || s["warehouse.orders"].NewestAt == nil || s[odd].Fresh() {
		t.Fatalf("after the producer: %+v %+v, want warehouse.orders fresh only", s["warehouse.orders"], s[odd])
	}
	a, err := b.s.AssetGet(b.ctx, "warehouse.orders")
	if err != nil || a.Events != 1 || a.LastEvent == nil || a.LastEvent.RunID == nil || *a.LastEvent.RunID != run.ID || a.LastEvent.TaskID != "load" {
		t.Fatalf("AssetGet(warehouse.orders) = %+v, %v; want one event from run %d", a, err, run.ID)
	}
	if a, err := b.s.AssetGet(b.ctx, "x%y"); err != nil || a.Events != 1 || len(a.Producers) != 1 || a.Producers[0].TaskID != "load" {
		t.Fatalf("AssetGet(x%%y) = %+v, %v", a, err)
	}

	b.clock.Advance(time.Minute)
	res := b.emit(odd)
	if len(res.Runs) != 1 || res.Runs[0].PipelineID != "report" {
		t.Fatalf("emit %s = %+v, want a run of report", odd, res.Runs)
	}
	s = status()
	for _, st := range s {
		if st.Fresh() || st.LastConsumedID == 0 || st.LastConsumedAt == nil || !st.LastConsumedAt.Equal(*st.NewestAt) {
			t.Fatalf("after report's run: %+v, want consumed up to the newest", st)
		}
	}

	// The asset run names the events it consumed; a manual run has no
	// trigger events.
	trs, err := b.s.RunTriggerList(b.ctx, res.Runs[0].ID)
	if err != nil || len(trs) != 1 || trs[0].Source != store.AssetSource {
		t.Fatalf("RunTriggerList(asset run) = %+v, %v", trs, err)
	}
	for _, want := range []string{fmt.Sprintf("%s:%d", odd, res.Event.ID), fmt.Sprintf("warehouse.orders:%d", a.LastEvent.ID)} {
		if !strings.Contains(trs[0].Key, want) {
			t.Fatalf("trigger key %q lacks %q", trs[0].Key, want)
		}
	}
	if got := store.ParseAssetKey(trs[0].Key); len(got) != 2 || got[0].Asset != odd || got[0].EventID != res.Event.ID || got[1].Asset != "warehouse.orders" {
		t.Fatalf("ParseAssetKey(%q) = %+v", trs[0].Key, got)
	}
	if trs, err := b.s.RunTriggerList(b.ctx, run.ID); err != nil || len(trs) != 0 {
		t.Fatalf("RunTriggerList(manual run) = %+v, %v", trs, err)
	}
	evs, err := b.s.AssetEventsByID(b.ctx, []int64{res.Event.ID, a.LastEvent.ID, 999999})
	if err != nil || len(evs) != 2 || evs[0].ID != a.LastEvent.ID || evs[1].Asset != odd || string(evs[1].Extra) != `{"rows":"7"}` {
		t.Fatalf("AssetEventsByID = %+v, %v", evs, err)
	}

	// An asset with events only is known; a name nothing knows is not.
	b.emit("outside.only")
	if a, err := b.s.AssetGet(b.ctx, "outside.only"); err != nil || a.Events != 1 || len(a.Producers)+len(a.Consumers) != 0 {
		t.Fatalf("AssetGet(outside.only) = %+v, %v", a, err)
	}
	for _, name := range []string{"nothing", "x_y", "warehouse.%"} {
		if _, err := b.s.AssetGet(b.ctx, name); sluice.ErrorCode(err) != sluice.ENOTFOUND {
			t.Fatalf("AssetGet(%s): %v, want ENOTFOUND", name, err)
		}
	}
	// A producer's old version does not produce.
	b.save("producer", 5, task{id: "load"})
	if a, err := b.s.AssetGet(b.ctx, "warehouse.orders"); err != nil || len(a.Producers) != 0 || a.Events != 1 {
		t.Fatalf("after the producer stopped producing: %+v, %v", a, err)
	}
}
