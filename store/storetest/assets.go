package storetest

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testAssetConditions checks any:/all: nesting: {any: [a, {all: [b, c]}]}
// runs on a alone, or on b and c both; and a run marks every asset of the
// pipeline consumed, the ones its condition did not need too.
func testAssetConditions(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("nested", pipelineOpts{maxActiveRuns: 100, assets: []string{"a", "b", "c"},
		condition: `{"any": ["a", {"all": ["b", "c"]}]}`}, task{id: "x"})
	runs := func() int { return len(b.assetRuns("nested")) }

	if res := b.emit("a"); len(res.Runs) != 1 {
		t.Fatalf("a alone: %d runs, want 1", len(res.Runs))
	}
	if res := b.emit("b"); len(res.Runs) != 0 {
		t.Fatalf("b alone: %d runs, want none (all: [b, c] waits for c)", len(res.Runs))
	}
	if res := b.emit("c"); len(res.Runs) != 1 {
		t.Fatalf("b then c: %d runs, want 1", len(res.Runs))
	}
	// b and a together: a's run consumes b as well, so a later c alone
	// does not complete all: [b, c].
	b.emit("b")
	if res := b.emit("a"); len(res.Runs) != 1 {
		t.Fatalf("a after b: %d runs, want 1", len(res.Runs))
	}
	if res := b.emit("c"); len(res.Runs) != 0 {
		t.Fatalf("c after a run that consumed b: %d runs, want none", len(res.Runs))
	}
	if n := runs(); n != 3 {
		t.Fatalf("runs = %d, want 3", n)
	}
	// The per-asset freshness stays readable: every asset is consumed up
	// to its newest event except c, whose last event came after.
	last := b.consumed("nested")
	newest := func(asset string) int64 {
		evs, err := b.s.AssetEventList(b.ctx, asset, 1)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events of %s: %v %v", asset, evs, err)
		}
		return evs[0].ID
	}
	if last["a"] != newest("a") || last["b"] != newest("b") || last["c"] >= newest("c") {
		t.Fatalf("consumed = %v, want a and b at their newest (%d, %d), c before %d", last, newest("a"), newest("b"), newest("c"))
	}

	// Saving the pipeline as a plain list (no condition) makes it all of
	// them; c's last event is still unconsumed and counts.
	b.saveWith("nested", pipelineOpts{maxActiveRuns: 100, assets: []string{"a", "b", "c"}}, task{id: "x"})
	if res := b.emit("a"); len(res.Runs) != 0 {
		t.Fatalf("plain list ran on a and c without b: %d runs", len(res.Runs))
	}
	if res := b.emit("b"); len(res.Runs) != 1 {
		t.Fatalf("plain list after c, a, b: %d runs, want 1", len(res.Runs))
	}
}

// consumed reads asset_consumers.last_event_id of a pipeline through the
// events its runs consumed: the newest trigger event per asset.
func (b *testBundle) consumed(pipeline string) map[string]int64 {
	b.t.Helper()
	out := map[string]int64{}
	for _, r := range b.assetRuns(pipeline) {
		evs, err := b.s.RunTriggerEvents(b.ctx, r.ID)
		if err != nil {
			b.t.Fatal(err)
		}
		for _, e := range evs {
			out[e.Asset] = max(out[e.Asset], e.ID)
		}
	}
	return out
}

// testAssetCronAndAssets checks a pipeline on a cron schedule and assets
// at once: asset runs do not move the cron's last logical date, and cron
// runs do not consume events.
func testAssetCronAndAssets(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("both", pipelineOpts{maxActiveRuns: 100, schedule: "@every 1h", assets: []string{"b"}}, task{id: "x"})
	p, err := b.s.PipelineGet(b.ctx, "both")
	if err != nil || p.Schedule != "@every 1h" {
		t.Fatalf("pipeline = %+v, %v; want schedule @every 1h", p, err)
	}
	at := b.clock.Now().Truncate(time.Hour)
	if _, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "both", Key: "scheduled__1", Kind: store.RunScheduled, LogicalDate: at}); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute)
	res := b.emit("b")
	if len(res.Runs) != 1 || res.Runs[0].Kind != store.RunAsset {
		t.Fatalf("b on a pipeline with a cron: %+v, want one asset run", res.Runs)
	}
	p, err = b.s.PipelineGet(b.ctx, "both")
	if err != nil || p.LastScheduledAt == nil || !p.LastScheduledAt.Equal(at) {
		t.Fatalf("last scheduled = %v (%v), want %v: an asset run is not a cron run", p.LastScheduledAt, err, at)
	}
	// A cron run between two events does not consume the second.
	b.clock.Advance(time.Minute)
	if _, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: "unrelated"}); err != nil {
		t.Fatal(err)
	}
	b.emit("b")
	if _, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "both", Key: "scheduled__2", Kind: store.RunScheduled, LogicalDate: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := len(b.assetRuns("both")); n != 2 {
		t.Fatalf("asset runs = %d, want 2", n)
	}
}

// testAssetTriggerEvents checks what a run sees of its trigger: the
// events it consumed (all of those since the last run, oldest first, with
// the producer's extras from its asset.* outputs), on the run and on each
// claim of its tasks; none for other runs.
func testAssetTriggerEvents(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("producer", 5, task{id: "load", produces: []string{"orders"}})
	b.saveWith("report", pipelineOpts{maxActiveRuns: 5, assets: []string{"orders", "customers"}}, task{id: "r"})

	b.emit("customers")
	first := b.emit("customers").Event
	run := b.createRun("producer", "p1")
	if err := b.complete(b.claimOne("load"), sluice.AttemptSuccess, map[string]string{"asset.rows": "42", "path": "/tmp/x"}); err != nil {
		t.Fatal(err)
	}
	reports := b.assetRuns("report")
	if len(reports) != 1 {
		t.Fatalf("report runs = %d, want 1", len(reports))
	}
	evs, err := b.s.RunTriggerEvents(b.ctx, reports[0].ID)
	if err != nil || len(evs) != 3 {
		t.Fatalf("trigger events = %+v, %v; want the two customers events and the orders one", evs, err)
	}
	if evs[0].Asset != "customers" || evs[1].ID != first.ID || evs[0].ID >= evs[1].ID || evs[1].RunID != nil {
		t.Fatalf("customers events = %+v %+v, want both, oldest first, from outside", evs[0], evs[1])
	}
	o := evs[2]
	if o.Asset != "orders" || o.PipelineID != "producer" || o.TaskID != "load" || o.RunID == nil || *o.RunID != run.ID || string(o.Extra) != `{"rows":"42"}` {
		t.Fatalf("orders event = %+v (extra %s), want producer/load of run %d with extra rows=42", o, o.Extra, run.ID)
	}
	ev, err := b.s.AssetEventList(b.ctx, "orders", 1)
	if err != nil || len(ev) != 1 || string(ev[0].Extra) != `{"rows":"42"}` {
		t.Fatalf("the stored event = %+v, %v; want extra rows=42", ev, err)
	}

	// The run's tasks get them with their claim, as JSON.
	c := b.claimOne("r")
	var got []map[string]any
	if err := json.Unmarshal(c.TriggerEvents, &got); err != nil || len(got) != 3 {
		t.Fatalf("claim trigger events = %s (%v), want 3", c.TriggerEvents, err)
	}
	for _, k := range []string{"id", "asset", "pipeline", "run", "task", "extra", "created_at"} {
		if _, ok := got[2][k]; !ok {
			t.Fatalf("trigger event %v has no %q", got[2], k)
		}
	}
	// Other runs have none.
	if evs, err := b.s.RunTriggerEvents(b.ctx, run.ID); err != nil || len(evs) != 0 {
		t.Fatalf("producer's trigger events = %+v, %v; want none", evs, err)
	}
	if _, err := b.s.RunTriggerEvents(b.ctx, 999999); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("trigger events of a missing run: %v, want ENOTFOUND", err)
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	b.createRun("producer", "p2")
	if c := b.claimOne("load"); len(c.TriggerEvents) != 0 {
		t.Fatalf("a manual run's claim has trigger events %s", c.TriggerEvents)
	}

	// Past MaxTriggerEventsPerAsset, the newest are kept.
	b.saveWith("many", pipelineOpts{maxActiveRuns: 5, assets: []string{"m", "gate"}}, task{id: "z"})
	var lastM int64
	for range store.MaxTriggerEventsPerAsset + 5 {
		lastM = b.emit("m").Event.ID
	}
	b.emit("gate")
	many := b.assetRuns("many")
	if len(many) != 1 {
		t.Fatalf("many runs = %d", len(many))
	}
	evs, err = b.s.RunTriggerEvents(b.ctx, many[0].ID)
	if err != nil || len(evs) != store.MaxTriggerEventsPerAsset+1 || evs[0].Asset != "gate" || evs[len(evs)-1].ID != lastM {
		t.Fatalf("many trigger events: %d (%v), want %d ending with m's newest", len(evs), err, store.MaxTriggerEventsPerAsset+1)
	}
}

// testAssetTriggerEventsBounded checks the bounds that keep a run's
// trigger events fit for one environment variable: a producer's extra
// leaves out what goes past MaxAssetExtraJSON, and a run's events leave
// out the oldest past MaxTriggerEventsJSON, keeping the newest.
func testAssetTriggerEventsBounded(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("producer", 5, task{id: "load", produces: []string{"big"}})
	b.saveWith("consumer", pipelineOpts{maxActiveRuns: 5, assets: []string{"big", "gate"}}, task{id: "c"})
	b.createRun("producer", "p1")
	huge := strings.Repeat("x", 20<<10)
	if err := b.complete(b.claimOne("load"), sluice.AttemptSuccess, map[string]string{"asset.huge": huge, "asset.small": "1"}); err != nil {
		t.Fatal(err)
	}
	evs, err := b.s.AssetEventList(b.ctx, "big", 1)
	if err != nil || len(evs) != 1 || string(evs[0].Extra) != `{"small":"1"}` {
		t.Fatalf("event of a producer with a huge extra = %+v, %v; want only small", evs, err)
	}
	extra := []byte(`{"pad":"` + strings.Repeat("y", 15<<10) + `"}`)
	var last int64
	for range 10 {
		res, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: "big", Extra: extra})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Event.ID
	}
	b.emit("gate")
	runs := b.assetRuns("consumer")
	if len(runs) != 1 {
		t.Fatalf("consumer runs = %d", len(runs))
	}
	c := b.claimOne("c")
	if len(c.TriggerEvents) > store.MaxTriggerEventsJSON {
		t.Fatalf("trigger events are %d bytes, over %d", len(c.TriggerEvents), store.MaxTriggerEventsJSON)
	}
	got, err := b.s.RunTriggerEvents(b.ctx, runs[0].ID)
	if err != nil || len(got) < 2 || len(got) >= 12 {
		t.Fatalf("trigger events = %d (%v), want some of the 12 left out", len(got), err)
	}
	if got[len(got)-2].ID != last || got[len(got)-1].Asset != "gate" {
		t.Fatalf("kept %d events ending %d %s, want big's newest %d and gate", len(got), got[len(got)-2].ID, got[len(got)-1].Asset, last)
	}
}

// testAssetRetention checks that retention prunes old asset events but
// keeps each asset's newest and whatever a consumer has not consumed.
func testAssetRetention(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("waits", pipelineOpts{maxActiveRuns: 100, assets: []string{"kept", "gate"}}, task{id: "w"})
	for range 3 {
		b.emit("lonely") // no consumer
	}
	b.emit("kept")
	b.emit("gate") // waits runs: kept and gate consumed
	var pending []int64
	for range 3 {
		pending = append(pending, b.emit("kept").Event.ID) // not consumed yet
	}
	b.clock.Advance(40 * 24 * time.Hour)
	recent := b.emit("lonely").Event.ID

	prune := func() *store.PruneResult {
		t.Helper()
		res, err := b.s.RetentionPrune(b.ctx, &store.RetentionParams{Default: 30 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	preview, err := b.s.RetentionPreview(b.ctx, &store.RetentionParams{Default: 30 * 24 * time.Hour})
	if err != nil || preview.Rows["asset_events"] != 4 {
		t.Fatalf("preview asset_events = %d (%v), want 4", preview.Rows["asset_events"], err)
	}
	// Pruning one pipeline leaves the events alone.
	if one, err := b.s.RetentionPrune(b.ctx, &store.RetentionParams{Default: 30 * 24 * time.Hour, PipelineID: "waits"}); err != nil || one.Rows["asset_events"] != 0 {
		t.Fatalf("prune of one pipeline: asset_events %d (%v), want 0", one.Rows["asset_events"], err)
	}
	res := prune()
	list := func(asset string) []int64 {
		evs, err := b.s.AssetEventList(b.ctx, asset, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	// lonely: the three old ones go (the recent one is the newest).
	if got := list("lonely"); len(got) != 1 || got[0] != recent {
		t.Fatalf("lonely after prune = %v, want only %d", got, recent)
	}
	// kept: the consumed one goes, the three pending stay.
	if got := list("kept"); len(got) != 3 || got[0] != pending[2] || got[2] != pending[0] {
		t.Fatalf("kept after prune = %v, want the pending %v", got, pending)
	}
	// gate: consumed, but its newest stays.
	if got := list("gate"); len(got) != 1 {
		t.Fatalf("gate after prune = %v, want its newest", got)
	}
	if res.Rows["asset_events"] != 4 {
		t.Fatalf("pruned asset_events = %d, want 4 (3 lonely, 1 kept)", res.Rows["asset_events"])
	}
	// The pending events still make the run, with all three.
	b.emit("gate")
	runs := b.assetRuns("waits")
	if len(runs) != 2 {
		t.Fatalf("waits runs = %d, want 2", len(runs))
	}
	evs, err := b.s.RunTriggerEvents(b.ctx, runs[1].ID)
	if err != nil || len(evs) != 4 {
		t.Fatalf("second run's trigger events = %d (%v), want 3 kept and 1 gate", len(evs), err)
	}
	// The first run keeps its copy of events retention removed.
	if evs, err := b.s.RunTriggerEvents(b.ctx, runs[0].ID); err != nil || len(evs) != 2 {
		t.Fatalf("first run's trigger events = %d (%v), want 2 after the prune", len(evs), err)
	}
}

// testAssetCycleLockOrder completes, at the same time, the producers of a
// cycle of pipelines through assets (a makes x and waits for y, b makes y
// and waits for x), round after round: no completion fails and each
// success runs the other pipeline once.
func testAssetCycleLockOrder(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("a", pipelineOpts{maxActiveRuns: 100, assets: []string{"y"}}, task{id: "ta", produces: []string{"x"}})
	b.saveWith("b", pipelineOpts{maxActiveRuns: 100, assets: []string{"x"}}, task{id: "tb", produces: []string{"y"}})
	b.createRun("a", "a1")
	b.createRun("b", "b1")
	const rounds = 5
	for round := range rounds {
		cs := b.claim(100)
		if len(cs) != 2 {
			t.Fatalf("round %d: claimed %v, want ta and tb", round, claimedTasks(cs))
		}
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()}})
				if err != nil || res[0] != nil {
					t.Errorf("round %d: complete %s: %v %v", round, c.TaskID, err, res)
				}
			}()
		}
		wg.Wait()
		if a, bb := len(b.assetRuns("a")), len(b.assetRuns("b")); a != round+1 || bb != round+1 {
			t.Fatalf("round %d: asset runs a=%d b=%d, want %d each", round, a, bb, round+1)
		}
	}
}

// testAssetWarnings checks that PipelineSetAssetWarnings sets the
// warnings it is given and clears every other pipeline's.
func testAssetWarnings(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("a", 1, task{id: "x"})
	b.save("b", 1, task{id: "x"})
	set := func(w map[string]string) {
		t.Helper()
		if err := b.s.PipelineSetAssetWarnings(b.ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	get := func(id string) string {
		t.Helper()
		p, err := b.s.PipelineGet(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.AssetWarnings
	}
	set(map[string]string{"a": "a.yaml:2:3: warning: one\nsecond", "gone": "x"})
	if get("a") != "a.yaml:2:3: warning: one\nsecond" || get("b") != "" {
		t.Fatalf("warnings a=%q b=%q", get("a"), get("b"))
	}
	set(map[string]string{"b": "w"})
	if get("a") != "" || get("b") != "w" {
		t.Fatalf("after the second set: a=%q b=%q, want a cleared", get("a"), get("b"))
	}
	set(nil)
	if get("b") != "" {
		t.Fatalf("after clearing: b=%q", get("b"))
	}
}
