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
