package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// completeClaim completes c with state and outputs, claiming along with it
// for a worker with labels and limit free slots.
func (b *testBundle) completeClaim(c *store.Claim, state sluice.AttemptState, outputs map[string]string, labels []string, limit int) (error, []*store.Claim) {
	b.t.Helper()
	asked := 0
	res, claims, err := b.s.AttemptCompleteClaim(b.ctx, []*store.AttemptCompleteParams{{
		Lease: c.Lease, State: state, FinishedAt: b.clock.Now(), Outputs: outputs,
	}}, &store.ClaimAlong{InstanceClaimParams: store.InstanceClaimParams{Worker: "w1", Labels: labels, LeaseDuration: Lease},
		Slots: func() int { asked++; return limit }})
	if err != nil {
		b.t.Fatalf("AttemptCompleteClaim: %v", err)
	}
	if asked > 1 {
		b.t.Fatalf("AttemptCompleteClaim asked for the free slots %d times, want at most once", asked)
	}
	if len(claims) > 0 && asked == 0 {
		b.t.Fatal("AttemptCompleteClaim claimed without asking for free slots")
	}
	return res[0], claims
}

// testCompleteClaim: a completion that readies instances claims them in
// its own transaction, as InstanceClaim would right after it: up to the
// limit, for the worker's labels, with a lease that holds and the upstream
// outputs; a completion that readies nothing, or whose lease is lost,
// claims nothing.
func testCompleteClaim(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("chain", 5, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b"}},
		task{id: "gpu", requires: []string{"gpu"}})
	r := b.createRun("chain", "r")
	a := b.claimOne("a")
	b.clock.Advance(time.Second)
	finished := b.clock.Now()
	err, along := b.completeClaim(a, sluice.AttemptSuccess, map[string]string{"rows": "42"}, nil, 4)
	if err != nil {
		t.Fatalf("complete a: %v", err)
	}
	if got := claimedTasks(along); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("completing a claimed %v, want b", got)
	}
	bc := along[0]
	if bc.StartedAt.Before(finished) {
		t.Fatalf("b started at %v, before a finished at %v", bc.StartedAt, finished)
	}
	if want := map[string]map[string]string{"a": {"rows": "42"}}; !reflect.DeepEqual(bc.Outputs, want) {
		t.Fatalf("b carries %v, want %v", bc.Outputs, want)
	}
	if bc.RunID != r.ID || bc.PipelineID != "chain" || bc.AttemptID == 0 || bc.Token == 0 || bc.Attempt != 1 {
		t.Fatalf("claim of b = %+v", bc)
	}
	lost, err := b.s.AttemptHeartbeat(b.ctx, &store.AttemptHeartbeatParams{Leases: []store.Lease{bc.Lease}, LeaseDuration: Lease})
	if err != nil || len(lost) != 0 {
		t.Fatalf("heartbeat of b's lease: lost %v, err %v", lost, err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceSuccess, "b": sluice.InstanceRunning, "c": sluice.InstancePending, "gpu": sluice.InstanceQueued})
	if again := b.claim(10); len(again) != 0 {
		t.Fatalf("b claimed along, yet InstanceClaim took %v", claimedTasks(again))
	}

	// A lost lease: nothing recorded, nothing readied, nothing claimed.
	stale := *bc
	stale.Token++
	err, along = b.completeClaim(&stale, sluice.AttemptSuccess, nil, nil, 4)
	if !errors.Is(err, sluice.ErrLeaseLost) || len(along) != 0 {
		t.Fatalf("completing with a stale token: err %v, claimed %v; want lease lost and nothing", err, claimedTasks(along))
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceSuccess, "b": sluice.InstanceRunning, "c": sluice.InstancePending, "gpu": sluice.InstanceQueued})

	// The claim follows the worker's labels: c is claimed, gpu is not.
	err, along = b.completeClaim(bc, sluice.AttemptSuccess, nil, nil, 4)
	if err != nil || !reflect.DeepEqual(claimedTasks(along), []string{"c"}) {
		t.Fatalf("completing b: err %v, claimed %v; want c", err, claimedTasks(along))
	}
	// Completing c readies nothing: the gpu task waits for a gpu worker.
	err, along = b.completeClaim(along[0], sluice.AttemptSuccess, nil, []string{"gpu"}, 4)
	if err != nil || len(along) != 0 {
		t.Fatalf("completing c: err %v, claimed %v; want nothing (c readies nothing)", err, claimedTasks(along))
	}
	if got := claimedTasks(b.claimAs([]string{"gpu"}, 4)); !reflect.DeepEqual(got, []string{"gpu"}) {
		t.Fatalf("a gpu worker claimed %v", got)
	}

	// The limit holds, and what is left stays claimable.
	b.save("fan", 5, task{id: "root"}, task{id: "d1", up: []string{"root"}}, task{id: "d2", up: []string{"root"}},
		task{id: "d3", up: []string{"root"}})
	fan := b.createRun("fan", "f")
	root := b.claimOne("root")
	ready := b.s.Wait(store.TopicReady)
	err, along = b.completeClaim(root, sluice.AttemptSuccess, nil, nil, 2)
	if err != nil || len(along) != 2 {
		t.Fatalf("completing root with 2 free slots: err %v, claimed %v; want 2", err, claimedTasks(along))
	}
	select {
	case <-ready:
	default:
		t.Fatal("root readied 3 tasks and claimed 2 along, but did not signal TopicReady for the third")
	}
	rest := b.claim(10)
	if len(rest) != 1 {
		t.Fatalf("after 2 claimed along, InstanceClaim took %v, want the third", claimedTasks(rest))
	}
	if got := claimedTasks(append(along, rest...)); !reflect.DeepEqual(got, []string{"d1", "d2", "d3"}) {
		t.Fatalf("claimed %v, want d1, d2, d3 once each", got)
	}
	for _, c := range append(along, rest...) {
		b.mustComplete(c, sluice.AttemptSuccess)
	}
	if s := b.runState(fan.ID); s != sluice.RunSuccess {
		t.Fatalf("fan run is %s, want success", s)
	}
}

// testCompleteClaimLimits: a completion that readies an instance in a pool
// leaves the pool's limit whole whichever way the instance is claimed
// (along with the completion or by the next InstanceClaim).
func testCompleteClaimLimits(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "db", Slots: 1}); err != nil {
		t.Fatal(err)
	}
	b.save("p", 5, task{id: "root"}, task{id: "p1", up: []string{"root"}, pool: "db"}, task{id: "p2", up: []string{"root"}, pool: "db"})
	r := b.createRun("p", "r")
	root := b.claimOne("root")
	err, along := b.completeClaim(root, sluice.AttemptSuccess, nil, nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	claimed := append(along, b.claim(10)...)
	if len(claimed) != 1 {
		t.Fatalf("a pool of 1 slot let %v run at once", claimedTasks(claimed))
	}
	err, along = b.completeClaim(claimed[0], sluice.AttemptSuccess, nil, nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	claimed = append(along, b.claim(10)...)
	if len(claimed) != 1 {
		t.Fatalf("after the first pooled task, claimed %v, want the second", claimedTasks(claimed))
	}
	b.mustComplete(claimed[0], sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run is %s, want success", s)
	}
}

// testAllSuccessDecided: the completion that makes an all_success instance
// ready queues it in the statement that counts its upstream outcomes (the
// hop's shortcut); whatever the outcomes and their order, the instance
// ends as sluice.AllSuccess.Decide says.
func testAllSuccessDecided(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 100, task{id: "plain"}, task{id: "allowed", allow: true},
		task{id: "d", up: []string{"plain", "allowed"}})
	outcomes := []sluice.AttemptState{sluice.AttemptSuccess, sluice.AttemptFailed, sluice.AttemptSkipped}
	n := 0
	for _, plain := range outcomes {
		for _, allowed := range outcomes {
			for _, plainFirst := range []bool{true, false} {
				n++
				r := b.createRun("p", fmt.Sprint(n))
				cs := map[string]*store.Claim{}
				for _, c := range b.claim(10) {
					cs[c.TaskID] = c
				}
				order := []string{"plain", "allowed"}
				if !plainFirst {
					order = []string{"allowed", "plain"}
				}
				outcome := map[string]sluice.AttemptState{"plain": plain, "allowed": allowed}
				for _, id := range order {
					if cs[id] == nil {
						t.Fatalf("run %d: %s was not claimed", n, id)
					}
					b.mustComplete(cs[id], outcome[id])
				}
				// Decided as soon as it can be: after each outcome in turn.
				u := sluice.Upstream{Total: 2}
				want := sluice.InstancePending
				for _, id := range order {
					switch o := outcome[id]; {
					case o == sluice.AttemptSuccess:
						u.Success++
					case o == sluice.AttemptSkipped:
						u.Skipped++
					case id == "allowed":
						u.AllowedFailed++
					default:
						u.Failed++
					}
					if want = sluice.AllSuccess.Decide(u); want != sluice.InstancePending {
						break
					}
				}
				if got := b.states(r.ID)["d"]; got != want {
					t.Errorf("plain %s, allowed %s (plain first: %v): d is %s, want %s", plain, allowed, plainFirst, got, want)
				}
				if want == sluice.InstanceQueued {
					b.mustComplete(b.claimOne("d"), sluice.AttemptSuccess)
				}
			}
		}
	}
}
