package storetest

import (
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testAllowFailure checks allow_failure: the task's failure is recorded
// as failed and does not fail the run; a one_failed handler of it runs, an
// all_success task after it runs too, and the same holds after a clear
// (the counters are recounted) and for a mapped task whose item failed. A
// failure of a task that does not allow it still fails the run.
func testAllowFailure(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5,
		task{id: "a", allow: true},
		task{id: "handler", up: []string{"a"}, rule: sluice.OneFailed},
		task{id: "after", up: []string{"a"}},
		task{id: "all_failed", up: []string{"a"}, rule: sluice.AllFailed},
		task{id: "none_failed", up: []string{"a"}, rule: sluice.NoneFailed},
	)
	r := b.createRun("p", "r")
	b.mustComplete(b.claimOne("a"), sluice.AttemptFailed)
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceFailed, "handler": sluice.InstanceQueued,
		"after": sluice.InstanceQueued, "all_failed": sluice.InstanceQueued, "none_failed": sluice.InstanceQueued})
	for _, c := range b.claim(10) {
		b.mustComplete(c, sluice.AttemptSuccess)
	}
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s, want success: its only failure is allowed", s)
	}
	ins, err := b.s.InstanceList(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if want := in.TaskID == "a"; in.AllowFailure != want {
			t.Errorf("%s: AllowFailure = %v, want %v", in.TaskID, in.AllowFailure, want)
		}
	}

	// Cleared, after is decided again from recounted counters: a's
	// allowed failure is still a success to it.
	if err := b.s.InstanceClear(b.ctx, r.ID, "after"); err != nil {
		t.Fatal(err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"after": sluice.InstanceQueued})
	b.mustComplete(b.claimOne("after"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run after the clear = %s, want success", s)
	}

	// A mapped task that allows failure: an item fails, the task is
	// failed (allowed), what follows runs and the run succeeds.
	b.save("m", 5, task{id: "each", mapped: true, allow: true}, task{id: "next", up: []string{"each"}})
	rm := b.createRun("m", "r")
	c := b.claimOne("each")
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: c.Lease, Items: []string{"x", "y"}}); err != nil {
		t.Fatal(err)
	}
	items := b.claim(10)
	if len(items) != 2 {
		t.Fatalf("claimed %v, want the two items", claimedTasks(items))
	}
	b.mustComplete(items[0], sluice.AttemptSuccess)
	b.mustComplete(items[1], sluice.AttemptFailed)
	b.wantStates(rm.ID, map[string]sluice.InstanceState{"each": sluice.InstanceFailed, "next": sluice.InstanceQueued})
	b.mustComplete(b.claimOne("next"), sluice.AttemptSuccess)
	if s := b.runState(rm.ID); s != sluice.RunSuccess {
		t.Fatalf("mapped run = %s, want success", s)
	}

	// Without allow_failure the same failure fails the run.
	b.save("q", 5, task{id: "a"}, task{id: "handler", up: []string{"a"}, rule: sluice.OneFailed})
	rq := b.createRun("q", "r")
	b.mustComplete(b.claimOne("a"), sluice.AttemptFailed)
	b.mustComplete(b.claimOne("handler"), sluice.AttemptSuccess)
	if s := b.runState(rq.ID); s != sluice.RunFailed {
		t.Fatalf("run of q = %s, want failed", s)
	}
}

// testSkipKeepsNoAttempt: a task its when: condition skipped keeps no
// attempt (nor its log) and no start time; the condition is the
// instance's note; a retry of the completion (its reply lost) is not a
// lost lease; a clear forgets the note.
func testSkipKeepsNoAttempt(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "maybe"}, task{id: "after", up: []string{"maybe"}, rule: sluice.NoneFailed})
	r := b.createRun("p", "r")
	c := b.claimOne("maybe")
	p := &store.AttemptCompleteParams{Lease: c.Lease, State: sluice.AttemptSkipped, FinishedAt: b.clock.Now(), Error: "when: ${{ params.go }} is false",
		Log: &store.LogChunk{Seq: 1, Data: []byte("a line\n")}}
	for try := 0; try < 2; try++ {
		res, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{p})
		if err != nil || res[0] != nil {
			t.Fatalf("complete, try %d: %v %v", try, err, res)
		}
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"maybe": sluice.InstanceSkipped, "after": sluice.InstanceQueued})
	in, err := b.s.InstanceGet(b.ctx, r.ID, "maybe")
	if err != nil {
		t.Fatal(err)
	}
	if in.Attempts != 0 || in.Note != "when: ${{ params.go }} is false" {
		t.Fatalf("maybe: attempts %d, note %q", in.Attempts, in.Note)
	}
	// It never started: no start time, only the time it ended.
	if in.StartedAt != nil || in.FinishedAt == nil {
		t.Fatalf("maybe: started %v, finished %v; want no start and a finish", in.StartedAt, in.FinishedAt)
	}
	if atts, err := b.s.AttemptList(b.ctx, in.ID); err != nil || len(atts) != 0 {
		t.Fatalf("attempts of a skip: %v, %v", atts, err)
	}
	b.mustComplete(b.claimOne("after"), sluice.AttemptSuccess)
	if err := b.s.InstanceClear(b.ctx, r.ID, "maybe"); err != nil {
		t.Fatal(err)
	}
	if in, _ := b.s.InstanceGet(b.ctx, r.ID, "maybe"); in.Note != "" {
		t.Fatalf("note after a clear: %q", in.Note)
	}
}
