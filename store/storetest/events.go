package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testTriggerEventOnce checks the exactly-once rule of trigger events: the
// same (pipeline, source, key) makes one run, however often it comes and
// however many copies race, and the run keys do not matter.
func testTriggerEventOnce(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 100, task{id: "a"})
	b.save("q", 100, task{id: "a"})
	create := func(pipeline, runKey, source, key string) (*store.Run, bool) {
		t.Helper()
		r, created, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{
			PipelineID: pipeline, Key: runKey, Kind: store.RunWebhook, LogicalDate: b.clock.Now(),
			Event: &store.TriggerEvent{Source: source, Key: key},
		})
		if err != nil {
			t.Fatalf("RunCreate(%s, %s, %s/%s): %v", pipeline, runKey, source, key, err)
		}
		return r, created
	}
	first, created := create("p", "webhook__1", "webhook", "delivery-1")
	if !created || first.Kind != store.RunWebhook || first.State != sluice.RunRunning {
		t.Fatalf("first delivery: created=%v run=%+v, want a new running webhook run", created, first)
	}
	// A retried delivery comes with a fresh run key: the event key decides.
	again, created := create("p", "webhook__2", "webhook", "delivery-1")
	if created || again.ID != first.ID {
		t.Fatalf("repeated delivery: created=%v run %d, want run %d again", created, again.ID, first.ID)
	}
	// The same key in another source or another pipeline is another event.
	other, created := create("p", "webhook__3", "webhook/other", "delivery-1")
	if !created || other.ID == first.ID {
		t.Fatalf("same key, other source: created=%v run %d, want a new run", created, other.ID)
	}
	inQ, created := create("q", "webhook__1", "webhook", "delivery-1")
	if !created || inQ.PipelineID != "q" {
		t.Fatalf("same key, other pipeline: created=%v run %+v, want a new run of q", created, inQ)
	}
	// An event whose run key is already taken joins that run, once.
	joined, created := create("p", "webhook__1", "webhook", "delivery-2")
	if created || joined.ID != first.ID {
		t.Fatalf("new event, existing run key: created=%v run %d, want run %d", created, joined.ID, first.ID)
	}
	if again, created := create("p", "webhook__9", "webhook", "delivery-2"); created || again.ID != first.ID {
		t.Fatalf("delivery-2 again: created=%v run %d, want run %d", created, again.ID, first.ID)
	}

	for _, bad := range []*store.TriggerEvent{{Source: "", Key: "k"}, {Source: "webhook", Key: ""}, {Source: "webhook", Key: strings.Repeat("k", store.MaxEventKeyLen+1)}} {
		_, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "p", Key: "bad", Kind: store.RunWebhook, Event: bad})
		if sluice.ErrorCode(err) != sluice.EINVALID {
			t.Errorf("event %q/%.10q: err = %v, want EINVALID", bad.Source, bad.Key, err)
		}
	}

	// Concurrent copies of one delivery, each with its own run key, as two
	// web processes would make them: one run, and every copy gets it.
	const copies = 16
	var (
		wg      sync.WaitGroup
		ids     [copies]int64
		creates [copies]bool
	)
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, c, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{
				PipelineID: "p", Key: fmt.Sprintf("race__%d", i), Kind: store.RunWebhook, LogicalDate: b.clock.Now(),
				Event: &store.TriggerEvent{Source: "webhook", Key: "race"},
			})
			if err != nil {
				t.Errorf("concurrent RunCreate: %v", err)
				return
			}
			ids[i], creates[i] = r.ID, c
		}()
	}
	wg.Wait()
	n := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("concurrent copies made different runs: %v", ids)
		}
		if creates[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d copies say they created the run, want 1", n)
	}
	runs, err := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: "p"})
	if err != nil || len(runs) != 3 {
		t.Fatalf("runs of p = %d (%v), want 3: delivery-1 (and -2), other source, race", len(runs), err)
	}

	// The event goes with its run: once the pipeline (or retention) removed
	// the run, the same key makes a new run.
	if err := b.s.PipelineDelete(b.ctx, "q"); err != nil {
		t.Fatal(err)
	}
	b.save("q", 100, task{id: "a"})
	if r, created := create("q", "webhook__1", "webhook", "delivery-1"); !created || r.ID == inQ.ID {
		t.Fatalf("after delete: created=%v run %d, want a new run", created, r.ID)
	}
}

// asset runs lists the asset-triggered runs of a pipeline, oldest first.
func (b *testBundle) assetRuns(pipeline string) []*store.Run {
	b.t.Helper()
	runs, err := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: pipeline})
	if err != nil {
		b.t.Fatal(err)
	}
	var out []*store.Run
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Kind == store.RunAsset {
			out = append(out, runs[i])
		}
	}
	return out
}

func (b *testBundle) emit(asset string) *store.AssetEventResult {
	b.t.Helper()
	res, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: asset, Extra: []byte(`{"rows":"7"}`)})
	if err != nil {
		b.t.Fatalf("AssetEventCreate(%s): %v", asset, err)
	}
	return res
}

// testAssetChain checks that a producer's success runs the pipelines
// scheduled on what it produces, in the same transaction, when every
// asset they wait for is new.
func testAssetChain(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("producer", 5, task{id: "load", produces: []string{"warehouse.orders"}}, task{id: "after", up: []string{"load"}})
	b.saveWith("report", pipelineOpts{maxActiveRuns: 5, assets: []string{"warehouse.orders"}}, task{id: "r"})
	b.saveWith("joined", pipelineOpts{maxActiveRuns: 5, assets: []string{"warehouse.orders", "crm.customers"}}, task{id: "j"})

	run := b.createRun("producer", "p1")
	b.mustComplete(b.claimOne("load"), sluice.AttemptSuccess)
	// The consumer's run exists as soon as the producing task succeeded,
	// before the producer's run is over, and its root task is ready.
	reports := b.assetRuns("report")
	if len(reports) != 1 || reports[0].State != sluice.RunRunning || string(reports[0].Params) != `{"from":"assets"}` {
		t.Fatalf("report runs after the producer = %+v, want one running, with the saved params", reports)
	}
	if b.runState(run.ID) != sluice.RunRunning {
		t.Fatalf("producer run is %s", b.runState(run.ID))
	}
	if got := b.assetRuns("joined"); len(got) != 0 {
		t.Fatalf("joined ran with one of its two assets: %+v", got)
	}
	evs, err := b.s.AssetEventList(b.ctx, "warehouse.orders", 0)
	if err != nil || len(evs) != 1 || evs[0].PipelineID != "producer" || evs[0].TaskID != "load" || evs[0].RunID == nil || *evs[0].RunID != run.ID {
		t.Fatalf("events = %+v, %v; want one from producer/load in run %d", evs, err, run.ID)
	}

	// An event from outside completes joined, and only joined.
	res := b.emit("crm.customers")
	if len(res.Runs) != 1 || res.Runs[0].PipelineID != "joined" || res.Runs[0].Kind != store.RunAsset || string(res.Event.Extra) != `{"rows":"7"}` {
		t.Fatalf("emit crm.customers = %+v", res)
	}
	if again := b.emit("crm.customers"); len(again.Runs) != 0 {
		t.Fatalf("a second crm.customers without a new warehouse.orders ran %+v", again.Runs)
	}
	if got := b.assetRuns("report"); len(got) != 1 {
		t.Fatalf("report ran on crm.customers: %d runs", len(got))
	}

	// The next success of the producer runs both again (joined has had a
	// new crm.customers since its run).
	b.completeAll()
	b.createRun("producer", "p2")
	b.completeAll()
	if r, j := len(b.assetRuns("report")), len(b.assetRuns("joined")); r != 2 || j != 2 {
		t.Fatalf("after the second producer run: report %d, joined %d runs; want 2 and 2", r, j)
	}

	// A pipeline that starts waiting for an asset waits for its next event,
	// not for the ones before it.
	b.saveWith("late", pipelineOpts{maxActiveRuns: 5, assets: []string{"crm.customers"}}, task{id: "l"})
	if got := b.assetRuns("late"); len(got) != 0 {
		t.Fatalf("late ran on old events: %+v", got)
	}
	// A paused consumer does not run; its events wait.
	if err := b.s.PipelineSetPaused(b.ctx, "late", true); err != nil {
		t.Fatal(err)
	}
	if res := b.emit("crm.customers"); len(res.Runs) != 0 {
		t.Fatalf("emit with late paused = %+v, want none (joined waits for warehouse.orders)", res.Runs)
	}
	if err := b.s.PipelineSetPaused(b.ctx, "late", false); err != nil {
		t.Fatal(err)
	}
	if res := b.emit("crm.customers"); len(res.Runs) != 1 || res.Runs[0].PipelineID != "late" {
		t.Fatalf("emit with late unpaused = %+v, want late (joined waits for warehouse.orders)", res.Runs)
	}
	// A pipeline saved without assets stops waiting.
	b.saveWith("late", pipelineOpts{maxActiveRuns: 5}, task{id: "l"})
	if res := b.emit("crm.customers"); len(res.Runs) != 0 {
		t.Fatalf("emit after late dropped its assets = %+v", res.Runs)
	}
	if _, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("empty asset name: %v", err)
	}
}

// testAssetEventsRace sends the two assets a pipeline waits for at the
// same time, round after round: every round makes exactly one run, never
// none (each transaction missing the other's event) and never two.
func testAssetEventsRace(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("both", pipelineOpts{maxActiveRuns: 100, assets: []string{"m", "n"}}, task{id: "x"})
	const rounds = 10
	for round := range rounds {
		var wg sync.WaitGroup
		for _, a := range []string{"m", "n"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: a}); err != nil {
					t.Errorf("AssetEventCreate(%s): %v", a, err)
				}
			}()
		}
		wg.Wait()
		if got := len(b.assetRuns("both")); got != round+1 {
			t.Fatalf("round %d: %d runs, want %d", round, got, round+1)
		}
	}
}

// completeAll claims every claimable instance and completes it with
// success.
func (b *testBundle) completeAll() {
	b.t.Helper()
	for _, c := range b.claim(100) {
		b.mustComplete(c, sluice.AttemptSuccess)
	}
}

// testAssetEventKey: an outside asset event with a key is recorded once:
// the same key again (also racing) returns the first event and starts no
// second run; the key is per asset; events without a key are all kept.
func testAssetEventKey(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("cons", pipelineOpts{maxActiveRuns: 10, assets: []string{"orders"}}, task{id: "a"})
	emit := func(asset, key string) *store.AssetEventResult {
		t.Helper()
		res, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: asset, Key: key})
		if err != nil {
			t.Fatalf("AssetEventCreate %s %q: %v", asset, key, err)
		}
		return res
	}
	first := emit("orders", "delivery-1")
	if first.Repeat || len(first.Runs) != 1 {
		t.Fatalf("first event: repeat %v, %d runs", first.Repeat, len(first.Runs))
	}
	results := make(chan *store.AssetEventResult, 4)
	for i := 0; i < 4; i++ {
		go func() {
			res, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: "orders", Key: "delivery-1"})
			if err != nil {
				t.Errorf("again: %v", err)
			}
			results <- res
		}()
	}
	for i := 0; i < 4; i++ {
		res := <-results
		if res == nil {
			continue
		}
		if !res.Repeat || res.Event.ID != first.Event.ID || len(res.Runs) != 0 {
			t.Fatalf("the same key again: repeat %v, event %d (first %d), %d runs", res.Repeat, res.Event.ID, first.Event.ID, len(res.Runs))
		}
	}
	if other := emit("customers", "delivery-1"); other.Repeat {
		t.Fatal("a key is per asset: another asset's event with it is new")
	}
	if a, c := emit("orders", ""), emit("orders", ""); a.Repeat || c.Repeat || a.Event.ID == c.Event.ID {
		t.Fatal("events without a key are each recorded")
	}
	evs, err := b.s.AssetEventList(b.ctx, "orders", 100)
	if err != nil || len(evs) != 3 {
		t.Fatalf("orders has %d events, want 3: %v", len(evs), err)
	}
	if _, err := b.s.AssetEventCreate(b.ctx, &store.AssetEventCreateParams{Asset: "orders", Key: strings.Repeat("k", store.MaxEventKeyLen+1)}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("a long key: %v", err)
	}
}
