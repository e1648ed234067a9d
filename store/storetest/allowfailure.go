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
