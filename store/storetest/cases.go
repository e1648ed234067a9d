package storetest

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

func testPipelineVersions(t *testing.T, open Opener) {
	b := setup(t, open)
	save := func(hash, schedule string) *store.PipelineSaveResult {
		t.Helper()
		res, err := b.s.PipelineSave(b.ctx, &store.PipelineSaveParams{
			ID: "p", Hash: hash, Source: "src " + hash, Spec: []byte(`{"h":"` + hash + `"}`), File: "/x/p.yaml",
			Schedule: schedule, MaxActiveRuns: 2, Tasks: []store.VersionTask{{TaskID: "a"}},
		})
		if err != nil {
			t.Fatalf("PipelineSave: %v", err)
		}
		return res
	}
	first := save("h1", "@daily")
	if !first.Created || !first.Changed {
		t.Fatalf("first save = %+v, want created and changed", first)
	}
	again := save("h1", "@daily")
	if again.Created || again.Changed || again.VersionID != first.VersionID {
		t.Fatalf("same hash again = %+v, want the same version unchanged", again)
	}
	second := save("h2", "")
	if !second.Created || !second.Changed || second.VersionID == first.VersionID {
		t.Fatalf("new hash = %+v, want a new live version", second)
	}
	back := save("h1", "@daily")
	if back.Created || !back.Changed || back.VersionID != first.VersionID {
		t.Fatalf("going back to h1 = %+v, want the old version live again", back)
	}
	p, err := b.s.PipelineGet(b.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if p.VersionID != first.VersionID || p.Hash != "h1" || p.File != "/x/p.yaml" || p.Schedule != "@daily" || p.MaxActiveRuns != 2 {
		t.Fatalf("pipeline = %+v", p)
	}
	if p.NextDueAt == nil || !p.NextDueAt.Equal(Epoch) {
		t.Fatalf("a changed scheduled pipeline must be due now, next due = %v", p.NextDueAt)
	}
	v, err := b.s.VersionGet(b.ctx, second.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Hash != "h2" || v.Source != "src h2" || string(v.Spec) != `{"h":"h2"}` || v.PipelineID != "p" {
		t.Fatalf("version = %+v", v)
	}
	if _, err := b.s.VersionGet(b.ctx, 999999); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("missing version: err = %v, want not found", err)
	}
	if _, err := b.s.PipelineGet(b.ctx, "nope"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("missing pipeline: err = %v, want not found", err)
	}
}

func testPipelineParseError(t *testing.T, open Opener) {
	b := setup(t, open)
	vid := b.save("p", 1, task{id: "a"})
	if err := b.s.PipelineSetError(b.ctx, &store.PipelineSetErrorParams{ID: "p", File: "p.yaml", Error: "p.yaml:3:1: bad"}); err != nil {
		t.Fatal(err)
	}
	p, err := b.s.PipelineGet(b.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if p.ParseError != "p.yaml:3:1: bad" || p.ParseErrorAt == nil || p.VersionID != vid {
		t.Fatalf("after a broken edit: %+v; want the error recorded and version %d still live", p, vid)
	}
	// A pipeline that never parsed is listed with its error and no version.
	if err := b.s.PipelineSetError(b.ctx, &store.PipelineSetErrorParams{ID: "q", File: "q.yaml", Error: "q.yaml:1:1: empty"}); err != nil {
		t.Fatal(err)
	}
	ps, err := b.s.PipelineList(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ID != "p" || ps[1].ID != "q" || ps[1].VersionID != 0 || ps[1].ParseError == "" {
		t.Fatalf("list = %+v %+v", ps[0], ps[1])
	}
	if _, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "q", Key: "k", Kind: store.RunManual}); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("running a pipeline without a version: err = %v, want conflict", err)
	}
	b.save("p", 1, task{id: "a"})
	p, _ = b.s.PipelineGet(b.ctx, "p")
	if p.ParseError != "" || p.ParseErrorAt != nil {
		t.Fatalf("a good save must clear the error: %+v", p)
	}
}

func testPipelinePauseAndDue(t *testing.T, open Opener) {
	b := setup(t, open)
	_, err := b.s.PipelineSave(b.ctx, &store.PipelineSaveParams{ID: "p", Hash: "h", Schedule: "@hourly", MaxActiveRuns: 1, Tasks: []store.VersionTask{{TaskID: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	due, err := b.s.PipelineListDue(b.ctx, b.clock.Now())
	if err != nil || len(due) != 1 {
		t.Fatalf("due = %v, %v; want p", due, err)
	}
	next := Epoch.Add(time.Hour)
	if err := b.s.PipelineSetNextDue(b.ctx, "p", &next); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.s.PipelineListDue(b.ctx, b.clock.Now()); len(due) != 0 {
		t.Fatalf("not due until %v, yet listed", next)
	}
	if due, _ := b.s.PipelineListDue(b.ctx, next); len(due) != 1 {
		t.Fatalf("due at %v, not listed", next)
	}
	if at, err := b.s.PipelineNextDue(b.ctx, b.clock.Now()); err != nil || at == nil || !at.Equal(next) {
		t.Fatalf("next due = %v, %v; want %v", at, err, next)
	}
	if at, err := b.s.PipelineNextDue(b.ctx, next); err != nil || at != nil {
		t.Fatalf("next due after %v = %v, %v; want none", next, at, err)
	}
	if err := b.s.PipelineSetPaused(b.ctx, "p", true); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.s.PipelineListDue(b.ctx, next); len(due) != 0 {
		t.Fatalf("paused pipeline listed as due")
	}
	if at, err := b.s.PipelineNextDue(b.ctx, b.clock.Now()); err != nil || at != nil {
		t.Fatalf("paused pipeline next due at %v, %v", at, err)
	}
	b.clock.Advance(10 * time.Hour)
	if err := b.s.PipelineSetPaused(b.ctx, "p", false); err != nil {
		t.Fatal(err)
	}
	p, _ := b.s.PipelineGet(b.ctx, "p")
	if p.Paused || p.NextDueAt == nil || !p.NextDueAt.Equal(b.clock.Now()) {
		t.Fatalf("unpaused = %+v; want due now", p)
	}
	if err := b.s.PipelineSetPaused(b.ctx, "nope", true); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("pause unknown: %v", err)
	}
}

func testRunCreateIdempotent(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}})
	logical := time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)
	params := &store.RunCreateParams{PipelineID: "p", Key: "scheduled__2026-02-01T03:00:00Z", Kind: store.RunScheduled, LogicalDate: logical}
	r1, created, err := b.s.RunCreate(b.ctx, params)
	if err != nil || !created {
		t.Fatalf("first create: created=%v err=%v", created, err)
	}
	r2, created, err := b.s.RunCreate(b.ctx, params)
	if err != nil || created || r2.ID != r1.ID {
		t.Fatalf("second create: created=%v err=%v id=%d, want the same run %d", created, err, r2.ID, r1.ID)
	}
	if r1.State != sluice.RunRunning || !r1.LogicalDate.Equal(logical) || r1.Kind != store.RunScheduled || string(r1.Params) != "{}" {
		t.Fatalf("run = %+v", r1)
	}
	ins, err := b.s.InstanceList(b.ctx, r1.ID)
	if err != nil || len(ins) != 2 {
		t.Fatalf("instances = %v, %v; want 2 (created once)", ins, err)
	}
	b.wantStates(r1.ID, map[string]sluice.InstanceState{"a": sluice.InstanceQueued, "b": sluice.InstancePending})
	p, _ := b.s.PipelineGet(b.ctx, "p")
	if p.LastScheduledAt == nil || !p.LastScheduledAt.Equal(logical) {
		t.Fatalf("last scheduled = %v, want %v", p.LastScheduledAt, logical)
	}
	// Concurrent creators of the same key make one run.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "p", Key: "race", Kind: store.RunManual, LogicalDate: logical})
			if err != nil {
				t.Errorf("concurrent RunCreate: %v", err)
				return
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creates made different runs: %v", ids)
		}
	}
	runs, _ := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: "p"})
	if len(runs) != 2 {
		t.Fatalf("runs = %d, want 2", len(runs))
	}
}

func testRunCreateUnknown(t *testing.T, open Opener) {
	b := setup(t, open)
	_, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "ghost", Key: "k", Kind: store.RunManual})
	if sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("err = %v, want not found", err)
	}
	if _, err := b.s.RunGet(b.ctx, 12345); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("RunGet missing: %v", err)
	}
}

func testRunPinnedToVersion(t *testing.T, open Opener) {
	b := setup(t, open)
	v1 := b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}})
	run := b.createRun("p", "r1")
	v2 := b.save("p", 5, task{id: "x"})
	if v1 == v2 || run.VersionID != v1 {
		t.Fatalf("run version %d, v1 %d, v2 %d", run.VersionID, v1, v2)
	}
	b.mustComplete(b.claimOne("a"), sluice.AttemptSuccess)
	c := b.claimOne("b")
	if c.VersionID != v1 {
		t.Fatalf("claim of the old run has version %d, want %d", c.VersionID, v1)
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	if s := b.runState(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
	run2 := b.createRun("p", "r2")
	if run2.VersionID != v2 {
		t.Fatalf("new run version %d, want live %d", run2.VersionID, v2)
	}
}

func testMaxActiveRuns(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"})
	r1 := b.createRun("p", "r1")
	b.clock.Advance(time.Second)
	r2 := b.createRun("p", "r2")
	if r1.State != sluice.RunRunning || r2.State != sluice.RunQueued {
		t.Fatalf("states %s %s, want running queued", r1.State, r2.State)
	}
	if n, _ := b.s.RunCountActive(b.ctx, "p"); n != 2 {
		t.Fatalf("active = %d, want 2", n)
	}
	if n, err := b.s.RunStartQueued(b.ctx, "p"); err != nil || n != 0 {
		t.Fatalf("RunStartQueued = %d, %v; want 0 while r1 runs", n, err)
	}
	c := b.claimOne("a")
	if c.RunID != r1.ID {
		t.Fatalf("claimed from run %d, want %d", c.RunID, r1.ID)
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	if s := b.runState(r1.ID); s != sluice.RunSuccess {
		t.Fatalf("r1 = %s", s)
	}
	// The queued run starts in the same transaction that ended r1.
	if s := b.runState(r2.ID); s != sluice.RunRunning {
		t.Fatalf("r2 = %s, want running once r1 finished", s)
	}
	c = b.claimOne("a")
	if c.RunID != r2.ID {
		t.Fatalf("claimed from run %d, want %d", c.RunID, r2.ID)
	}
}

func testClaimOrder(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 10, task{id: "low", prio: 1}, task{id: "high", prio: 10}, task{id: "mid", prio: 5})
	r1 := b.createRun("p", "r1")
	b.clock.Advance(time.Second)
	r2 := b.createRun("p", "r2")
	// Priority first, then age: both highs, then both mids, the older
	// run first each time. One at a time, so the order is the claims'.
	order := map[int64]string{r1.ID: "r1", r2.ID: "r2"}
	var cs []*store.Claim
	var got []string
	for range 4 {
		c := b.claim(1)
		if len(c) != 1 {
			t.Fatalf("after %v: claimed %d, want 1", got, len(c))
		}
		cs = append(cs, c[0])
		got = append(got, c[0].TaskID+"/"+order[c[0].RunID])
	}
	if want := "high/r1 high/r2 mid/r1 mid/r2"; strings.Join(got, " ") != want {
		t.Fatalf("claimed %v, want %s", got, want)
	}
	for _, c := range cs {
		if c.Attempt != 1 || c.Token == 0 || c.AttemptID == 0 || c.PipelineID != "p" || string(c.Params) != `{"n":1}` ||
			!c.LeaseExpiresAt.Equal(b.clock.Now().Add(Lease)) {
			t.Fatalf("claim = %+v", c)
		}
	}
	if rest := b.claim(10); len(rest) != 2 || rest[0].TaskID != "low" || rest[1].TaskID != "low" {
		t.Fatalf("rest = %v, want the two lows", claimedTasks(rest))
	}
	if none := b.claim(10); len(none) != 0 {
		t.Fatalf("claimed %v from an empty queue", claimedTasks(none))
	}
}

// testClaimMany: a claim of more instances than one statement asks for
// (the one-statement claim goes in pieces above 32) takes all it may, each
// instance once.
func testClaimMany(t *testing.T, open Opener) {
	b := setup(t, open)
	var tasks []task
	for i := 0; i < 150; i++ {
		tasks = append(tasks, task{id: fmt.Sprintf("t%03d", i)})
	}
	b.save("p", 10, tasks...)
	b.createRun("p", "0")
	seen := map[int64]bool{}
	for _, want := range []int{100, 50, 0} {
		got := b.claim(100)
		if len(got) != want {
			t.Fatalf("claim of 100 took %d instances, want %d", len(got), want)
		}
		for _, c := range got {
			if seen[c.InstanceID] {
				t.Fatalf("instance %d claimed twice", c.InstanceID)
			}
			seen[c.InstanceID] = true
		}
	}
}

func testClaimConcurrent(t *testing.T, open Opener) {
	b := setup(t, open)
	var tasks []task
	for i := 0; i < 50; i++ {
		tasks = append(tasks, task{id: string(rune('A'+i/26)) + string(rune('a'+i%26))})
	}
	b.save("p", 10, tasks...)
	for i := 0; i < 4; i++ {
		b.createRun("p", string(rune('0'+i)))
	}
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := b.s.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "w", Limit: 7, LeaseDuration: Lease})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.InstanceID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Fatalf("claimed %d distinct instances, want 200", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("instance %d claimed %d times", id, n)
		}
	}
}

func testReadinessChain(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b"}})
	r := b.createRun("p", "r")
	for _, id := range []string{"a", "b", "c"} {
		c := b.claimOne(id)
		if none := b.claim(10); len(none) != 0 {
			t.Fatalf("claimed %v while %s runs", claimedTasks(none), id)
		}
		if s := b.runState(r.ID); s != sluice.RunRunning {
			t.Fatalf("run %s before %s finished", s, id)
		}
		b.mustComplete(c, sluice.AttemptSuccess)
	}
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s, want success", s)
	}
	run, _ := b.s.RunGet(b.ctx, r.ID)
	if run.FinishedAt == nil || run.StartedAt == nil {
		t.Fatalf("run times: %+v", run)
	}
}

func testReadinessDiamond(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"a"}}, task{id: "d", up: []string{"b", "c"}})
	r := b.createRun("p", "r")
	b.mustComplete(b.claimOne("a"), sluice.AttemptSuccess)
	cs := b.claim(10)
	if got := claimedTasks(cs); len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("after a: claimed %v, want b c", got)
	}
	byTask := map[string]*store.Claim{cs[0].TaskID: cs[0], cs[1].TaskID: cs[1]}
	b.mustComplete(byTask["b"], sluice.AttemptSuccess)
	if none := b.claim(10); len(none) != 0 {
		t.Fatalf("d claimed before c finished")
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"d": sluice.InstancePending})
	b.mustComplete(byTask["c"], sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("d"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
}

func testUpstreamFailedPropagates(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b"}}, task{id: "x"})
	r := b.createRun("p", "r")
	cs := b.claim(10)
	for _, c := range cs {
		if c.TaskID == "a" {
			b.mustComplete(c, sluice.AttemptFailed)
		}
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{
		"a": sluice.InstanceFailed, "b": sluice.InstanceUpstreamFailed, "c": sluice.InstanceUpstreamFailed, "x": sluice.InstanceRunning,
	})
	if s := b.runState(r.ID); s != sluice.RunRunning {
		t.Fatalf("run = %s while x runs", s)
	}
	for _, c := range cs {
		if c.TaskID == "x" {
			b.mustComplete(c, sluice.AttemptSuccess)
		}
	}
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s, want failed", s)
	}
}

// testCompletionsSettleRuns completes attempts of two runs in one batch,
// one of whose failures finishes downstream instances (upstream_failed)
// in the same transaction: each run ends exactly when its last instance
// does, as its count of unfinished instances says. On PostgreSQL the count
// of a batch of one run is settled in propagation's first statement, and
// what propagation finishes after it in one more.
func testCompletionsSettleRuns(t *testing.T, open Opener) {
	b := setup(t, open)
	tasks := []task{{id: "a"}, {id: "b", up: []string{"a"}}, {id: "c", up: []string{"b"}}, {id: "x"}}
	b.save("p", 1, tasks...)
	b.save("q", 1, tasks...) // a pipeline runs one run at a time
	r1, r2 := b.createRun("p", "r1"), b.createRun("q", "r2")
	byRun := map[int64]map[string]*store.Claim{r1.ID: {}, r2.ID: {}}
	for _, c := range b.claim(10) {
		byRun[c.RunID][c.TaskID] = c
	}
	if len(byRun[r1.ID]) != 2 || len(byRun[r2.ID]) != 2 {
		t.Fatalf("claimed %v and %v, want a and x of each run", byRun[r1.ID], byRun[r2.ID])
	}
	done := func(state sluice.AttemptState, cs ...*store.Claim) {
		t.Helper()
		ps := make([]*store.AttemptCompleteParams, len(cs))
		for i, c := range cs {
			ps[i] = &store.AttemptCompleteParams{Lease: c.Lease, State: state, FinishedAt: b.clock.Now()}
		}
		res, err := b.s.AttemptComplete(b.ctx, ps)
		if err != nil {
			t.Fatalf("AttemptComplete: %v", err)
		}
		for i, err := range res {
			if err != nil {
				t.Fatalf("complete %s: %v", cs[i].TaskID, err)
			}
		}
	}
	// Two runs in one batch.
	done(sluice.AttemptSuccess, byRun[r1.ID]["x"], byRun[r2.ID]["x"])
	// One run, whose failure finishes b and c too, and with them the run.
	done(sluice.AttemptFailed, byRun[r1.ID]["a"])
	b.wantStates(r1.ID, map[string]sluice.InstanceState{
		"a": sluice.InstanceFailed, "b": sluice.InstanceUpstreamFailed, "c": sluice.InstanceUpstreamFailed, "x": sluice.InstanceSuccess,
	})
	if s := b.runState(r1.ID); s != sluice.RunFailed {
		t.Fatalf("r1 = %s, want failed: its last instances finished", s)
	}
	// One run, one success that readies the next task.
	done(sluice.AttemptSuccess, byRun[r2.ID]["a"])
	if s := b.runState(r2.ID); s != sluice.RunRunning {
		t.Fatalf("r2 = %s while b and c are left", s)
	}
	done(sluice.AttemptSuccess, b.claimOne("b"))
	if s := b.runState(r2.ID); s != sluice.RunRunning {
		t.Fatalf("r2 = %s while c is left", s)
	}
	done(sluice.AttemptSuccess, b.claimOne("c"))
	if s := b.runState(r2.ID); s != sluice.RunSuccess {
		t.Fatalf("r2 = %s, want success", s)
	}
	for _, r := range []*store.Run{r1, r2} {
		got, err := b.s.RunGet(b.ctx, r.ID)
		if err != nil {
			t.Fatalf("RunGet: %v", err)
		}
		if got.FinishedAt == nil {
			t.Errorf("run %s finished without a finish time", r.Key)
		}
	}
}

func testTriggerRuleAllDone(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b"}, task{id: "cleanup", up: []string{"a", "b"}, rule: sluice.AllDone})
	r := b.createRun("p", "r")
	cs := b.claim(10)
	b.mustComplete(cs[0], sluice.AttemptFailed)
	b.mustComplete(cs[1], sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("cleanup"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s, want failed (a task failed even though cleanup ran)", s)
	}
}

func testRetryDelay(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a", retry: sluice.RetryPolicy{Retries: 2, Delay: time.Minute}}, task{id: "b", up: []string{"a"}})
	r := b.createRun("p", "r")
	b.mustComplete(b.claimOne("a"), sluice.AttemptFailed)
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceUpForRetry})
	if cs := b.claim(10); len(cs) != 0 {
		t.Fatalf("claimed %v before the retry delay passed", claimedTasks(cs))
	}
	b.clock.Advance(time.Minute)
	c := b.claimOne("a")
	if c.Attempt != 2 {
		t.Fatalf("attempt = %d, want 2", c.Attempt)
	}
	b.mustComplete(c, sluice.AttemptTimedOut)
	b.clock.Advance(time.Minute)
	c = b.claimOne("a")
	b.mustComplete(c, sluice.AttemptFailed)
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceFailed, "b": sluice.InstanceUpstreamFailed})
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s", s)
	}
	ins, _ := b.s.InstanceList(b.ctx, r.ID)
	for _, in := range ins {
		if in.TaskID == "a" && (in.Attempts != 3 || in.Failures != 3) {
			t.Fatalf("a: attempts %d failures %d, want 3 and 3", in.Attempts, in.Failures)
		}
	}
	atts, _ := b.s.AttemptList(b.ctx, ins[0].ID)
	var states []sluice.AttemptState
	for _, a := range atts {
		states = append(states, a.State)
	}
	if len(atts) != 3 || states[0] != sluice.AttemptFailed || states[1] != sluice.AttemptTimedOut || states[2] != sluice.AttemptFailed {
		t.Fatalf("attempts = %v", states)
	}
}

func testFencing(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a", retry: sluice.RetryPolicy{Retries: 1}})
	r := b.createRun("p", "r")
	c := b.claimOne("a")
	forged := *c
	forged.Token++
	if err := b.complete(&forged, sluice.AttemptSuccess, map[string]string{"k": "forged"}); !isLeaseLost(err) {
		t.Fatalf("complete with a wrong token: %v, want lease lost", err)
	}
	if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: forged.Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("x")}}); !isLeaseLost(err) {
		t.Fatalf("log with a wrong token: %v, want lease lost", err)
	}
	if err := b.s.AttemptSetContainer(b.ctx, forged.Lease, "forged:image", "forged"); !isLeaseLost(err) {
		t.Fatalf("container with a wrong token: %v, want lease lost", err)
	}
	if err := b.s.AttemptSetContainer(b.ctx, c.Lease, "busybox:1", "0123456789abcdef"); err != nil {
		t.Fatalf("container of the lease holder: %v", err)
	}
	if err := b.s.AttemptSetBlocked(b.ctx, forged.Lease, "forged"); !isLeaseLost(err) {
		t.Fatalf("blocked with a wrong token: %v, want lease lost", err)
	}
	if err := b.s.AttemptSetBlocked(b.ctx, c.Lease, "pod unschedulable: 0/1 nodes are available"); err != nil {
		t.Fatalf("blocked of the lease holder: %v", err)
	}
	if in, err := b.s.InstanceGet(b.ctx, c.RunID, c.TaskID); err != nil || in.Blocked != "pod unschedulable: 0/1 nodes are available" || in.State != sluice.InstanceRunning {
		t.Fatalf("instance of a blocked running attempt: %+v, %v", in, err)
	}
	if err := b.s.AttemptSetBlocked(b.ctx, c.Lease, ""); err != nil {
		t.Fatalf("unblocked: %v", err)
	}
	// The lease expires and a scheduler takes it back: the old holder can
	// write nothing more, and the retry belongs to a new attempt.
	b.clock.Advance(Lease + time.Second)
	reaped, err := b.s.AttemptReap(b.ctx, &store.AttemptReapParams{ExpiredBefore: b.clock.Now(), Reason: "lease expired"})
	if err != nil || len(reaped) != 1 {
		t.Fatalf("reap = %v, %v", reaped, err)
	}
	if err := b.complete(c, sluice.AttemptSuccess, map[string]string{"k": "stale"}); !isLeaseLost(err) {
		t.Fatalf("stale complete: %v, want lease lost", err)
	}
	if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("x")}}); !isLeaseLost(err) {
		t.Fatalf("stale log: %v, want lease lost", err)
	}
	lost, err := b.s.AttemptHeartbeat(b.ctx, &store.AttemptHeartbeatParams{Leases: []store.Lease{c.Lease}, LeaseDuration: Lease})
	if err != nil || len(lost) != 1 {
		t.Fatalf("stale heartbeat: lost=%v err=%v, want the lease reported lost", lost, err)
	}
	c2 := b.claimOne("a")
	b.mustComplete(c2, sluice.AttemptSuccess)
	outs, _ := b.s.OutputList(b.ctx, r.ID, []string{"a"})
	if len(outs["a"]) != 0 {
		t.Fatalf("outputs of fenced writers were recorded: %v", outs)
	}
	atts, _ := b.s.AttemptList(b.ctx, c.InstanceID)
	if len(atts) != 2 || atts[0].State != sluice.AttemptLost || atts[1].State != sluice.AttemptSuccess {
		t.Fatalf("attempts: %+v %+v", atts[0], atts[1])
	}
	if atts[0].Token != c.Token || atts[1].Token != c2.Token || c.Token == c2.Token {
		t.Fatalf("attempt tokens %d, %d; want the claims' %d, %d", atts[0].Token, atts[1].Token, c.Token, c2.Token)
	}
	if logs, _ := b.s.LogList(b.ctx, c.AttemptID, 0); len(logs) != 0 {
		t.Fatalf("fenced log written: %v", logs)
	}
	if err := b.s.AttemptSetContainer(b.ctx, c.Lease, "stale:image", "stale"); !isLeaseLost(err) {
		t.Fatalf("stale container: %v, want lease lost", err)
	}
	if err := b.s.AttemptSetBlocked(b.ctx, c.Lease, "stale"); !isLeaseLost(err) {
		t.Fatalf("stale blocked: %v, want lease lost", err)
	}
	if atts[0].Image != "busybox:1" || atts[0].ContainerID != "0123456789abcdef" || atts[1].Image != "" || atts[1].ContainerID != "" {
		t.Fatalf("containers of the attempts: %+v %+v", atts[0], atts[1])
	}
}

func testLeaseExpiry(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}})
	r := b.createRun("p", "r")
	c := b.claimOne("a")
	b.clock.Advance(Lease - time.Second)
	if reaped, _ := b.s.AttemptReap(b.ctx, &store.AttemptReapParams{ExpiredBefore: b.clock.Now(), Reason: "x"}); len(reaped) != 0 {
		t.Fatalf("reaped a live lease")
	}
	b.clock.Advance(2 * time.Second)
	reaped, err := b.s.AttemptReap(b.ctx, &store.AttemptReapParams{ExpiredBefore: b.clock.Now(), Reason: "lease expired: worker w1 stopped heartbeating"})
	if err != nil || len(reaped) != 1 || reaped[0].ID != c.AttemptID || reaped[0].State != sluice.AttemptLost {
		t.Fatalf("reap = %+v, %v", reaped, err)
	}
	atts, _ := b.s.AttemptList(b.ctx, c.InstanceID)
	if atts[0].State != sluice.AttemptLost || atts[0].Error != "lease expired: worker w1 stopped heartbeating" || atts[0].FinishedAt == nil {
		t.Fatalf("attempt = %+v", atts[0])
	}
	// No retries: the lost attempt fails the instance, and the run.
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceFailed, "b": sluice.InstanceUpstreamFailed})
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s", s)
	}
}

func testReapAll(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a", retry: sluice.RetryPolicy{Retries: 1}}, task{id: "b", retry: sluice.RetryPolicy{Retries: 1}})
	r := b.createRun("p", "r")
	if cs := b.claim(10); len(cs) != 2 {
		t.Fatalf("claimed %d", len(cs))
	}
	reaped, err := b.s.AttemptReap(b.ctx, &store.AttemptReapParams{Reason: "previous process died"})
	if err != nil || len(reaped) != 2 {
		t.Fatalf("reap all = %v, %v", reaped, err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceUpForRetry, "b": sluice.InstanceUpForRetry})
	if cs := b.claim(10); len(cs) != 2 || cs[0].Attempt != 2 {
		t.Fatalf("retries not claimable at once with zero delay: %v", claimedTasks(cs))
	}
}

func testHeartbeat(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b"})
	b.createRun("p", "r")
	cs := b.claim(10)
	leases := []store.Lease{cs[0].Lease, cs[1].Lease}
	for i := 0; i < 3; i++ {
		b.clock.Advance(Lease / 2)
		lost, err := b.s.AttemptHeartbeat(b.ctx, &store.AttemptHeartbeatParams{Leases: leases, LeaseDuration: Lease})
		if err != nil || len(lost) != 0 {
			t.Fatalf("heartbeat: lost=%v err=%v", lost, err)
		}
	}
	// 1.5 leases have passed since the claim, but heartbeats kept them.
	if reaped, _ := b.s.AttemptReap(b.ctx, &store.AttemptReapParams{ExpiredBefore: b.clock.Now(), Reason: "x"}); len(reaped) != 0 {
		t.Fatalf("reaped heartbeated leases")
	}
	b.mustComplete(cs[0], sluice.AttemptSuccess)
	lost, err := b.s.AttemptHeartbeat(b.ctx, &store.AttemptHeartbeatParams{Leases: leases, LeaseDuration: Lease})
	if err != nil || len(lost) != 1 || lost[0] != cs[0].Lease {
		t.Fatalf("heartbeat of a completed attempt: lost=%v err=%v", lost, err)
	}
}

func testHandBack(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"})
	r := b.createRun("p", "r")
	c := b.claimOne("a")
	if err := b.s.AttemptHandBack(b.ctx, []store.Lease{c.Lease}); err != nil {
		t.Fatal(err)
	}
	if err := b.complete(c, sluice.AttemptSuccess, nil); !isLeaseLost(err) {
		t.Fatalf("complete after hand back: %v", err)
	}
	c2 := b.claimOne("a")
	if c2.Attempt != 2 {
		t.Fatalf("attempt = %d", c2.Attempt)
	}
	b.mustComplete(c2, sluice.AttemptSuccess)
	ins, _ := b.s.InstanceList(b.ctx, r.ID)
	if ins[0].Failures != 0 || ins[0].State != sluice.InstanceSuccess {
		t.Fatalf("a handed-back attempt counted as a failure: %+v", ins[0])
	}
	atts, _ := b.s.AttemptList(b.ctx, c.InstanceID)
	if atts[0].State != sluice.AttemptHandedBack {
		t.Fatalf("attempt 1 = %s", atts[0].State)
	}
}

func testLogs(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"})
	b.createRun("p", "r")
	c := b.claimOne("a")
	for i, line := range []string{"1 o one\n", "2 e two\n"} {
		chunk := store.LogChunk{Seq: i + 1, Data: []byte(line)}
		if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: chunk}); err != nil {
			t.Fatal(err)
		}
	}
	// A repeated chunk (the first write committed, its reply was lost) is harmless.
	if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: store.LogChunk{Seq: 2, Data: []byte("2 e two\n")}}); err != nil {
		t.Fatal(err)
	}
	_, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now(),
		Log: &store.LogChunk{Seq: 3, Data: []byte("3 o three\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := b.s.LogList(b.ctx, c.AttemptID, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("logs = %v, %v", all, err)
	}
	var joined []byte
	for _, ch := range all {
		joined = append(joined, ch.Data...)
	}
	if !bytes.Equal(joined, []byte("1 o one\n2 e two\n3 o three\n")) {
		t.Fatalf("log = %q", joined)
	}
	tail, _ := b.s.LogList(b.ctx, c.AttemptID, 2)
	if len(tail) != 1 || tail[0].Seq != 3 {
		t.Fatalf("tail = %v", tail)
	}
}

func testOutputs(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a", retry: sluice.RetryPolicy{Retries: 1}}, task{id: "b", up: []string{"a"}})
	r := b.createRun("p", "r")
	c := b.claimOne("a")
	if err := b.complete(c, sluice.AttemptFailed, map[string]string{"path": "failed"}); err != nil {
		t.Fatal(err)
	}
	c = b.claimOne("a")
	if err := b.complete(c, sluice.AttemptSuccess, map[string]string{"path": "/tmp/x", "rows": "42", "multi": "a\nb"}); err != nil {
		t.Fatal(err)
	}
	outs, err := b.s.OutputList(b.ctx, r.ID, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"path": "/tmp/x", "rows": "42", "multi": "a\nb"}
	if len(outs) != 1 || len(outs["a"]) != 3 {
		t.Fatalf("outputs = %v, want a: %v", outs, want)
	}
	for k, v := range want {
		if outs["a"][k] != v {
			t.Fatalf("output %s = %q, want %q", k, outs["a"][k], v)
		}
	}
	// The downstream claim carries what the successful attempt wrote, not
	// what the failed one did.
	if c := b.claimOne("b"); !reflect.DeepEqual(c.Outputs, map[string]map[string]string{"a": want}) {
		t.Fatalf("b's claim carries %v, want a: %v", c.Outputs, want)
	}
}

// testClaimCarriesOutputs checks that a claim brings the outputs of its
// instance's direct upstream tasks, and only theirs, on both ways to claim:
// an instance without limits and one in a pool.
func testClaimCarriesOutputs(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "db", Slots: 2}); err != nil {
		t.Fatal(err)
	}
	b.save("p", 10, task{id: "a"}, task{id: "b"}, task{id: "quiet"},
		task{id: "join", up: []string{"a", "b", "quiet"}}, task{id: "pooled", up: []string{"b"}, pool: "db"},
		task{id: "last", up: []string{"join"}})
	r := b.createRun("p", "r")
	roots := b.claim(10)
	if got := claimedTasks(roots); !reflect.DeepEqual(got, []string{"a", "b", "quiet"}) {
		t.Fatalf("claimed %v, want a, b, quiet", got)
	}
	outs := map[string]map[string]string{"a": {"path": "/tmp/a", "rows": "42"}, "b": {"multi": "x\ny", "empty": ""}}
	for _, c := range roots {
		if c.Outputs != nil {
			t.Fatalf("root %s carries outputs %v", c.TaskID, c.Outputs)
		}
		if err := b.complete(c, sluice.AttemptSuccess, outs[c.TaskID]); err != nil {
			t.Fatal(err)
		}
	}
	next := b.claim(10)
	if got := claimedTasks(next); !reflect.DeepEqual(got, []string{"join", "pooled"}) {
		t.Fatalf("claimed %v, want join and pooled", got)
	}
	want := map[string]map[string]map[string]string{
		"join":   {"a": outs["a"], "b": outs["b"]},
		"pooled": {"b": outs["b"]},
	}
	for _, c := range next {
		if !reflect.DeepEqual(c.Outputs, want[c.TaskID]) {
			t.Fatalf("%s carries %v, want %v", c.TaskID, c.Outputs, want[c.TaskID])
		}
		listed, err := b.s.OutputList(b.ctx, r.ID, []string{"a", "b", "quiet"})
		if err != nil {
			t.Fatal(err)
		}
		if c.TaskID == "join" && !reflect.DeepEqual(c.Outputs, listed) {
			t.Fatalf("join carries %v, OutputList says %v", c.Outputs, listed)
		}
		b.mustComplete(c, sluice.AttemptSuccess)
	}
	if c := b.claimOne("last"); c.Outputs != nil {
		t.Fatalf("last carries %v; join wrote no outputs", c.Outputs)
	}
}

func testCompleteBatch(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 10, task{id: "a"}, task{id: "b"}, task{id: "c"}, task{id: "j", up: []string{"a", "b", "c"}})
	r := b.createRun("p", "r")
	cs := b.claim(10)
	stale := *cs[1]
	stale.Token++
	res, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{
		{Lease: cs[2].Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()},
		{Lease: stale.Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()},
		{Lease: cs[0].Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != nil || !isLeaseLost(res[1]) || res[2] != nil {
		t.Fatalf("results = %v, want nil, lease lost, nil", res)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"j": sluice.InstancePending})
	b.mustComplete(cs[1], sluice.AttemptSuccess)
	b.wantStates(r.ID, map[string]sluice.InstanceState{"j": sluice.InstanceQueued})
	// Completing again with the same outcome (a retry after a lost reply)
	// is not a lost lease; a different outcome is.
	again, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{
		{Lease: cs[0].Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()},
		{Lease: cs[2].Lease, State: sluice.AttemptFailed, FinishedAt: b.clock.Now()},
	})
	if err != nil || again[0] != nil || !isLeaseLost(again[1]) {
		t.Fatalf("repeated completions: %v, %v; want nil and lease lost", again, err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceSuccess, "c": sluice.InstanceSuccess, "j": sluice.InstanceQueued})
	if _, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: cs[0].Lease, State: sluice.AttemptRunning}}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("completing as running: %v, want invalid", err)
	}
}

func testWaitReady(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}})
	wait := b.s.Wait(store.TopicReady)
	b.createRun("p", "r")
	select {
	case <-wait:
	default:
		t.Fatal("creating a run with a root task did not signal TopicReady")
	}
	c := b.claimOne("a")
	wait = b.s.Wait(store.TopicReady)
	select {
	case <-wait:
		t.Fatal("signalled before anything became ready")
	default:
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	select {
	case <-wait:
	default:
		t.Fatal("completing a made b ready without signalling TopicReady")
	}
}

func testRunList(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"})
	b.save("q", 1, task{id: "a"})
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, b.createRun("p", string(rune('a'+i))).ID)
	}
	b.createRun("q", "z")
	runs, err := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: "p", Limit: 2})
	if err != nil || len(runs) != 2 || runs[0].ID != ids[4] || runs[1].ID != ids[3] {
		t.Fatalf("page 1 = %v, %v", runs, err)
	}
	runs, _ = b.s.RunList(b.ctx, &store.RunListParams{PipelineID: "p", Limit: 10, BeforeID: ids[3]})
	if len(runs) != 3 || runs[0].ID != ids[2] {
		t.Fatalf("page 2 = %d runs", len(runs))
	}
	runs, _ = b.s.RunList(b.ctx, &store.RunListParams{States: []sluice.RunState{sluice.RunQueued}})
	if len(runs) != 4 {
		t.Fatalf("queued runs = %d, want 4", len(runs))
	}
	runs, _ = b.s.RunList(b.ctx, &store.RunListParams{})
	if len(runs) != 6 {
		t.Fatalf("all runs = %d", len(runs))
	}
}

func testFanoutJoin(t *testing.T, open Opener) {
	b := setup(t, open)
	const n = 300
	tasks := []task{}
	var ups []string
	for i := 0; i < n; i++ {
		id := "t" + string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
		tasks = append(tasks, task{id: id})
		ups = append(ups, id)
	}
	tasks = append(tasks, task{id: "join", up: ups})
	b.save("p", 1, tasks...)
	r := b.createRun("p", "r")
	done := 0
	for {
		cs := b.claim(64)
		if len(cs) == 0 {
			break
		}
		var ps []*store.AttemptCompleteParams
		for _, c := range cs {
			if c.TaskID == "join" {
				t.Fatalf("join claimed after %d of %d upstream", done, n)
			}
			ps = append(ps, &store.AttemptCompleteParams{Lease: c.Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()})
		}
		if _, err := b.s.AttemptComplete(b.ctx, ps); err != nil {
			t.Fatal(err)
		}
		done += len(cs)
		if done == n {
			break
		}
	}
	b.mustComplete(b.claimOne("join"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
}

// testRunCreateScheduled checks the scheduler's batch: runs of several
// pipelines and their next due times in one transaction, idempotent by
// key, all or nothing.
func testRunCreateScheduled(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "a"})
	b.save("q", 5, task{id: "a"}, task{id: "b", up: []string{"a"}})
	d1 := time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)
	d2, next := d1.Add(time.Hour), d1.Add(2*time.Hour)
	run := func(id string, d time.Time) *store.RunCreateParams {
		return &store.RunCreateParams{PipelineID: id, Key: "scheduled__" + d.Format(time.RFC3339), Kind: store.RunScheduled, LogicalDate: d}
	}
	batch := []*store.ScheduledRuns{
		{PipelineID: "q", Runs: []*store.RunCreateParams{run("q", d1), run("q", d2)}, NextDue: &next},
		{PipelineID: "p", Runs: []*store.RunCreateParams{run("p", d1)}, NextDue: &next},
	}
	out, err := b.s.RunCreateScheduled(b.ctx, batch)
	if err != nil || len(out) != 2 || len(out[0]) != 2 || len(out[1]) != 1 || !out[0][0].Created || !out[0][1].Created || !out[1][0].Created ||
		out[0][0].Run.PipelineID != "q" || !out[0][1].Run.LogicalDate.Equal(d2) || out[1][0].Run.PipelineID != "p" {
		t.Fatalf("batch = %+v, %v", out, err)
	}
	if ins, err := b.s.InstanceList(b.ctx, out[0][0].Run.ID); err != nil || len(ins) != 2 {
		t.Fatalf("instances of q's run = %v, %v; want 2", ins, err)
	}
	for _, id := range []string{"p", "q"} {
		if p, _ := b.s.PipelineGet(b.ctx, id); p.NextDueAt == nil || !p.NextDueAt.Equal(next) {
			t.Fatalf("%s next due = %v, want %v", id, p.NextDueAt, next)
		}
	}
	// Again: the same runs, created by nobody.
	again, err := b.s.RunCreateScheduled(b.ctx, batch)
	if err != nil || again[0][0].Created || again[1][0].Created || again[1][0].Run.ID != out[1][0].Run.ID {
		t.Fatalf("second batch = %+v, %v", again, err)
	}
	// A pipeline that does not exist fails the batch, and p gets nothing.
	d3, later := next, next.Add(time.Hour)
	_, err = b.s.RunCreateScheduled(b.ctx, []*store.ScheduledRuns{
		{PipelineID: "p", Runs: []*store.RunCreateParams{run("p", d3)}, NextDue: &later},
		{PipelineID: "nope", Runs: []*store.RunCreateParams{run("nope", d3)}, NextDue: &later},
	})
	if err == nil {
		t.Fatal("a batch with an unknown pipeline succeeded")
	}
	if p, _ := b.s.PipelineGet(b.ctx, "p"); p.NextDueAt == nil || !p.NextDueAt.Equal(next) || !p.LastScheduledAt.Equal(d1) {
		t.Fatalf("after a failed batch p = next due %v, last scheduled %v; want unchanged", p.NextDueAt, p.LastScheduledAt)
	}
}

// AttemptLogAppendMany stores the chunks of several attempts at once and
// refuses, alone, a chunk whose lease is gone.
func testLogsMany(t *testing.T, open Opener) {
	b := setup(t, open)
	cs := b.threeRunning()
	b.mustComplete(cs[2], sluice.AttemptSuccess) // its lease is over
	forged := cs[1].Lease
	forged.Token++
	res, err := b.s.AttemptLogAppendMany(b.ctx, []*store.AttemptLogAppendParams{
		{Lease: cs[1].Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("1 o b one\n")}},
		{Lease: cs[0].Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("1 o a one\n")}},
		{Lease: cs[2].Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("1 o c late\n")}},
		{Lease: forged, Chunk: store.LogChunk{Seq: 2, Data: []byte("2 o forged\n")}},
		{Lease: cs[0].Lease, Chunk: store.LogChunk{Seq: 2, Data: []byte("2 o a two\n")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != nil || res[1] != nil || !isLeaseLost(res[2]) || !isLeaseLost(res[3]) || res[4] != nil {
		t.Fatalf("results = %v", res)
	}
	for _, want := range []struct {
		c    *store.Claim
		text string
	}{{cs[0], "1 o a one\n2 o a two\n"}, {cs[1], "1 o b one\n"}, {cs[2], ""}} {
		all, err := b.s.LogList(b.ctx, want.c.AttemptID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var joined []byte
		for _, ch := range all {
			joined = append(joined, ch.Data...)
		}
		if string(joined) != want.text {
			t.Errorf("attempt of %s: log %q, want %q", want.c.TaskID, joined, want.text)
		}
	}
	if res, err := b.s.AttemptLogAppendMany(b.ctx, nil); err != nil || len(res) != 0 {
		t.Fatalf("nothing to append: %v %v", res, err)
	}
}
