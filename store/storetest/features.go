package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

func (b *testBundle) claimAs(labels []string, limit int) []*store.Claim {
	b.t.Helper()
	cs, err := b.s.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "w", Labels: labels, Limit: limit, LeaseDuration: Lease})
	if err != nil {
		b.t.Fatalf("InstanceClaim: %v", err)
	}
	return cs
}

func testPools(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "db", Slots: 2}); err != nil {
		t.Fatal(err)
	}
	b.save("p", 5, task{id: "a", pool: "db"}, task{id: "b", pool: "db"}, task{id: "c", pool: "db"},
		task{id: "big", pool: "db", slots: 2, prio: -1}, task{id: "free"}, task{id: "ghost", pool: "nowhere"})
	b.createRun("p", "r")
	cs := b.claim(10)
	if got := claimedTasks(cs); fmt.Sprint(got) != "[a b free]" {
		t.Fatalf("claimed %v, want two of the pool's tasks and the free one", got)
	}
	pools, _ := b.s.PoolList(b.ctx)
	if len(pools) != 1 || pools[0].Used != 2 || pools[0].Queued != 2 {
		t.Fatalf("pools = %+v", pools[0])
	}
	if more := b.claim(10); len(more) != 0 {
		t.Fatalf("claimed %v from a full pool", claimedTasks(more))
	}
	byTask := map[string]*store.Claim{}
	for _, c := range cs {
		byTask[c.TaskID] = c
	}
	b.mustComplete(byTask["a"], sluice.AttemptSuccess)
	c := b.claimOne("c")
	// big needs 2 slots: it waits for both.
	b.mustComplete(byTask["b"], sluice.AttemptSuccess)
	if more := b.claim(10); len(more) != 0 {
		t.Fatalf("claimed %v with one slot free", claimedTasks(more))
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	big := b.claimOne("big")
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "db", Slots: 1}); err != nil {
		t.Fatal(err)
	}
	b.mustComplete(big, sluice.AttemptSuccess)
	// A task of a pool that does not exist waits for it.
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "nowhere", Slots: 1}); err != nil {
		t.Fatal(err)
	}
	b.claimOne("ghost")
	if err := b.s.PoolDelete(b.ctx, "nowhere"); err != nil {
		t.Fatal(err)
	}
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "bad name!", Slots: 1}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("bad pool name: %v", err)
	}
}

// testPoolsConcurrent claims from a small pool with many concurrent
// claimers and checks the pool is never oversubscribed.
func testPoolsConcurrent(t *testing.T, open Opener) {
	b := setup(t, open)
	const slots = 3
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "tight", Slots: slots}); err != nil {
		t.Fatal(err)
	}
	var tasks []task
	for i := 0; i < 40; i++ {
		tasks = append(tasks, task{id: fmt.Sprintf("t%02d", i), pool: "tight"})
	}
	b.save("p", 5, tasks...)
	b.createRun("p", "r")
	var (
		mu            sync.Mutex
		running, peak int
		done          int
		wg            sync.WaitGroup
	)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				finished := done == len(tasks)
				mu.Unlock()
				if finished {
					return
				}
				cs, err := b.s.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "w", Limit: 2, LeaseDuration: Lease})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				mu.Lock()
				running += len(cs)
				peak = max(peak, running)
				mu.Unlock()
				for _, c := range cs {
					time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
					mu.Lock()
					running-- // before the completion commits: never undercounts
					mu.Unlock()
					if _, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: sluice.AttemptSuccess, FinishedAt: b.clock.Now()}}); err != nil {
						t.Errorf("complete: %v", err)
						return
					}
					mu.Lock()
					done++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if done != len(tasks) {
		t.Fatalf("%d of %d done", done, len(tasks))
	}
	if peak > slots {
		t.Fatalf("%d instances of a %d-slot pool ran at once", peak, slots)
	}
}

func testMaxActiveTasks(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("p", pipelineOpts{maxActiveRuns: 5, maxActiveTasks: 2}, task{id: "a"}, task{id: "b"})
	b.createRun("p", "r1")
	b.createRun("p", "r2")
	cs := b.claim(10)
	if len(cs) != 2 {
		t.Fatalf("claimed %d, want max_active_tasks 2", len(cs))
	}
	b.mustComplete(cs[0], sluice.AttemptSuccess)
	if more := b.claim(10); len(more) != 1 {
		t.Fatalf("claimed %d after one finished, want 1", len(more))
	}
}

func testWorkerLabels(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "gpu", requires: []string{"gpu"}}, task{id: "both", requires: []string{"py3", "gpu"}}, task{id: "any"})
	b.createRun("p", "r")
	if got := claimedTasks(b.claimAs(nil, 10)); fmt.Sprint(got) != "[any]" {
		t.Fatalf("a worker without labels claimed %v", got)
	}
	if got := claimedTasks(b.claimAs([]string{"gpu"}, 10)); fmt.Sprint(got) != "[gpu]" {
		t.Fatalf("a gpu worker claimed %v", got)
	}
	if got := claimedTasks(b.claimAs([]string{"x", "py3", "gpu"}, 10)); fmt.Sprint(got) != "[both]" {
		t.Fatalf("a gpu+py3 worker claimed %v", got)
	}
}

func testMapping(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "list"}, task{id: "m", up: []string{"list"}, mapped: true, retry: sluice.RetryPolicy{Retries: 1}},
		task{id: "after", up: []string{"m"}})
	r := b.createRun("p", "r")
	b.mustComplete(b.claimOne("list"), sluice.AttemptSuccess)
	m := b.claimOne("m")
	if m.MapIndex != -1 {
		t.Fatalf("map index %d", m.MapIndex)
	}
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: m.Lease, Items: []string{"x", "y", "z"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: m.Lease, Items: []string{"x"}}); !isLeaseLost(err) {
		t.Fatalf("expanding twice: %v", err)
	}
	items := b.claim(10)
	if len(items) != 3 {
		t.Fatalf("claimed %d items", len(items))
	}
	sort.Slice(items, func(i, j int) bool { return items[i].MapIndex < items[j].MapIndex })
	for i, c := range items {
		if c.TaskID != "m" || c.MapIndex != i || c.Item == nil || *c.Item != []string{"x", "y", "z"}[i] {
			t.Fatalf("item %d: %+v", i, c)
		}
	}
	b.complete(items[0], sluice.AttemptSuccess, map[string]string{"rows": "1"})
	b.complete(items[2], sluice.AttemptSuccess, map[string]string{"rows": "3"})
	b.mustComplete(items[1], sluice.AttemptFailed) // retried on its own
	b.wantStates(r.ID, map[string]sluice.InstanceState{"m": sluice.InstanceRunning, "after": sluice.InstancePending})
	retry := b.claimOne("m")
	if retry.MapIndex != 1 || retry.Attempt != 2 {
		t.Fatalf("retry = %+v", retry)
	}
	b.complete(retry, sluice.AttemptSuccess, map[string]string{"rows": "2", "extra": "only y"})
	b.wantStates(r.ID, map[string]sluice.InstanceState{"m": sluice.InstanceSuccess, "after": sluice.InstanceQueued})
	outs, err := b.s.OutputList(b.ctx, r.ID, []string{"m"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []*string
	if err := json.Unmarshal([]byte(outs["m"]["rows"]), &rows); err != nil || len(rows) != 3 || *rows[0] != "1" || *rows[1] != "2" || *rows[2] != "3" {
		t.Fatalf("rows = %s (%v)", outs["m"]["rows"], err)
	}
	if outs["m"]["extra"] != `[null,"only y",null]` {
		t.Fatalf("extra = %s", outs["m"]["extra"])
	}
	after := b.claimOne("after")
	if after.Outputs["m"]["rows"] != outs["m"]["rows"] || after.Outputs["m"]["extra"] != outs["m"]["extra"] || len(after.Outputs) != 1 {
		t.Fatalf("after's claim carries %v, want m's outputs %v", after.Outputs, outs["m"])
	}
	b.mustComplete(after, sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
	ins, _ := b.s.InstanceList(b.ctx, r.ID)
	if len(ins) != 6 {
		t.Fatalf("%d instances, want 3 tasks and 3 items", len(ins))
	}
	// Retrying the run from the mapped task expands it afresh.
	if err := b.s.InstanceClear(b.ctx, r.ID, "m"); err != nil {
		t.Fatal(err)
	}
	if ins, _ := b.s.InstanceList(b.ctx, r.ID); len(ins) != 3 {
		t.Fatalf("after clearing the mapped task: %d instances, want its items gone", len(ins))
	}
	m2 := b.claimOne("m")
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: m2.Lease, Items: []string{"only"}}); err != nil {
		t.Fatal(err)
	}
	b.mustComplete(b.claimOne("m"), sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("after"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run after clear = %s", s)
	}
}

func testMappingMaxParallel(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "m", mapped: true, maxPar: 2})
	b.createRun("p", "r")
	m := b.claimOne("m")
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: m.Lease, Items: []string{"1", "2", "3", "4", "5"}}); err != nil {
		t.Fatal(err)
	}
	cs := b.claim(10)
	if len(cs) != 2 {
		t.Fatalf("claimed %d items, max_parallel is 2", len(cs))
	}
	b.mustComplete(cs[0], sluice.AttemptSuccess)
	if more := b.claim(10); len(more) != 1 {
		t.Fatalf("claimed %d after one item finished, want 1", len(more))
	}
}

func testMappingEmptyAndFailed(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "m", mapped: true}, task{id: "after", up: []string{"m"}}, task{id: "f", mapped: true}, task{id: "g", up: []string{"f"}})
	r := b.createRun("p", "r")
	cs := b.claim(10)
	byTask := map[string]*store.Claim{}
	for _, c := range cs {
		byTask[c.TaskID] = c
	}
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: byTask["m"].Lease}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: byTask["f"].Lease, Items: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"m": sluice.InstanceSkipped, "after": sluice.InstanceSkipped})
	items := b.claim(10)
	b.mustComplete(items[0], sluice.AttemptSuccess)
	b.mustComplete(items[1], sluice.AttemptFailed)
	b.wantStates(r.ID, map[string]sluice.InstanceState{"f": sluice.InstanceFailed, "g": sluice.InstanceUpstreamFailed})
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s", s)
	}
}

func testSkipPropagates(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b"}},
		task{id: "d", up: []string{"b"}, rule: sluice.NoneFailed}, task{id: "e", up: []string{"b"}, rule: sluice.AllDone})
	r := b.createRun("p", "r")
	b.mustComplete(b.claimOne("a"), sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("b"), sluice.AttemptSkipped)
	b.wantStates(r.ID, map[string]sluice.InstanceState{"b": sluice.InstanceSkipped, "c": sluice.InstanceSkipped,
		"d": sluice.InstanceQueued, "e": sluice.InstanceQueued})
}

func testReschedule(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "sensor"})
	r := b.createRun("p", "r")
	c := b.claimOne("sensor")
	first := c.FirstStartedAt
	if _, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: sluice.AttemptRescheduled,
		FinishedAt: b.clock.Now(), RetryAt: b.clock.Now().Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"sensor": sluice.InstanceUpForReschedule})
	if cs := b.claim(10); len(cs) != 0 {
		t.Fatal("claimed before the next poke")
	}
	b.clock.Advance(time.Minute)
	c2 := b.claimOne("sensor")
	if !c2.FirstStartedAt.Equal(first) || c2.Failures != 0 {
		t.Fatalf("second poke: first started %v (want %v), failures %d", c2.FirstStartedAt, first, c2.Failures)
	}
	b.mustComplete(c2, sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
}

func testChildRunWakesParent(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("parent", 5, task{id: "call"})
	b.save("child", 5, task{id: "x"})
	pr := b.createRun("parent", "p")
	c := b.claimOne("call")
	child, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "child", Key: "child-of-p", Kind: store.RunManual,
		LogicalDate: pr.LogicalDate, ParentRunID: pr.ID, ParentTask: "call"})
	if err != nil {
		t.Fatal(err)
	}
	if child.ParentRunID == nil || *child.ParentRunID != pr.ID || child.ParentTask != "call" {
		t.Fatalf("child = %+v", child)
	}
	if _, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: sluice.AttemptRescheduled,
		FinishedAt: b.clock.Now(), RetryAt: b.clock.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	b.mustComplete(b.claimOne("x"), sluice.AttemptSuccess)
	// The child's end makes the parent's task claimable at once.
	if c2 := b.claimOne("call"); c2.RunID != pr.ID {
		t.Fatalf("claimed %+v", c2)
	}
	runs, _ := b.s.RunList(b.ctx, &store.RunListParams{LogicalDate: &pr.LogicalDate, PipelineID: "child"})
	if len(runs) != 1 || runs[0].ID != child.ID {
		t.Fatalf("runs by logical date: %v", runs)
	}
}

func testCallbacks(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("p", pipelineOpts{maxActiveRuns: 5, callbacks: store.CallbackSuccess | store.CallbackFailure},
		task{id: "a", cb: store.CallbackFailure | store.CallbackRetry, retry: sluice.RetryPolicy{Retries: 1}}, task{id: "quiet"})
	r := b.createRun("p", "r")
	wake := b.s.Wait(store.TopicCallbacks)
	// a's attempts fail with errors of their own, which its callbacks get.
	failA := func(c *store.Claim) {
		t.Helper()
		res, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: sluice.AttemptFailed,
			FinishedAt: b.clock.Now(), Error: fmt.Sprintf("boom %d", c.Attempt)}})
		if err != nil || res[0] != nil {
			t.Fatalf("failing a: %v %v", err, res)
		}
	}
	cs := b.claim(10)
	for _, c := range cs {
		if c.TaskID == "a" {
			failA(c)
			continue
		}
		b.mustComplete(c, sluice.AttemptSuccess)
	}
	select {
	case <-wake:
	default:
		t.Fatal("a retry callback did not signal TopicCallbacks")
	}
	failA(b.claimOne("a"))
	claim := func() []*store.Callback {
		t.Helper()
		got, err := b.s.CallbackClaim(b.ctx, &store.CallbackClaimParams{Worker: "w", Limit: 10, LeaseDuration: Lease})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := claim()
	var events []string
	for _, c := range got {
		events = append(events, c.TaskID+":"+c.Event)
		if c.RunID != r.ID {
			t.Fatalf("callback of run %d", c.RunID)
		}
	}
	if fmt.Sprint(events) != "[a:retry a:failure :failure]" {
		t.Fatalf("callbacks = %v", events)
	}
	for i, want := range []struct {
		attempt int
		err     string
	}{{1, "boom 1"}, {2, "boom 2"}, {0, ""}} {
		if got[i].Attempt != want.attempt || got[i].AttemptError != want.err {
			t.Errorf("callback %s: attempt %d, error %q; want %d, %q", events[i], got[i].Attempt, got[i].AttemptError, want.attempt, want.err)
		}
	}
	if more := claim(); len(more) != 0 {
		t.Fatalf("claimed running callbacks again: %v", more)
	}
	if err := b.s.CallbackComplete(b.ctx, got[0].ID, got[0].Token, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.s.CallbackComplete(b.ctx, got[1].ID, got[1].Token+1, ""); !isLeaseLost(err) {
		t.Fatalf("completing with a wrong token: %v", err)
	}
	// The worker running the others dies: their leases expire, they run again.
	b.clock.Advance(Lease + time.Second)
	again := claim()
	if len(again) != 2 || again[0].Tries != 2 {
		t.Fatalf("after the lease expired: %+v", again)
	}
	for i := 0; i < 2; i++ {
		b.clock.Advance(Lease + time.Second)
		claim()
	}
	b.clock.Advance(Lease + time.Second)
	if last := claim(); len(last) != 0 {
		t.Fatalf("a callback ran more than %d times", 3)
	}
	list, err := b.s.CallbackList(b.ctx, r.ID)
	if err != nil || len(list) != 3 || list[0].State != "done" || list[1].State != "failed" || list[1].Error == "" {
		t.Fatalf("callback list = %+v, %v", list, err)
	}
}

func testSecretsAndVariables(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.s.SecretSet(b.ctx, "DB_PASSWORD", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.SecretSet(b.ctx, "DB_PASSWORD", []byte{4, 5}); err != nil {
		t.Fatal(err)
	}
	got, err := b.s.SecretGet(b.ctx, []string{"DB_PASSWORD", "MISSING"})
	if err != nil || len(got) != 1 || string(got["DB_PASSWORD"]) != "\x04\x05" {
		t.Fatalf("secrets = %v, %v", got, err)
	}
	list, _ := b.s.SecretList(b.ctx)
	if len(list) != 1 || list[0].Name != "DB_PASSWORD" {
		t.Fatalf("list = %v", list)
	}
	if err := b.s.SecretDelete(b.ctx, "DB_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	if err := b.s.SecretDelete(b.ctx, "DB_PASSWORD"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("delete twice: %v", err)
	}
	if err := b.s.VariableSet(b.ctx, "bucket", "s3://a"); err != nil {
		t.Fatal(err)
	}
	if err := b.s.VariableSet(b.ctx, "bucket", "s3://b"); err != nil {
		t.Fatal(err)
	}
	vars, _ := b.s.VariableList(b.ctx)
	if len(vars) != 1 || vars[0].Value != "s3://b" {
		t.Fatalf("vars = %v", vars)
	}
	if err := b.s.VariableDelete(b.ctx, "bucket"); err != nil {
		t.Fatal(err)
	}
}

func testBackfill(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 2, task{id: "a"}, task{id: "b", up: []string{"a"}})
	day := func(d int) time.Time { return time.Date(2026, 1, d, 3, 0, 0, 0, time.UTC) }
	key := func(d int) string { return "scheduled__" + day(d).Format(time.RFC3339) }
	// Day 2 ran and succeeded; day 3 ran and failed.
	for _, d := range []int{2, 3} {
		r, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "p", Key: key(d), Kind: store.RunScheduled, LogicalDate: day(d)})
		if err != nil {
			t.Fatal(err)
		}
		c := b.claimOne("a")
		if c.RunID != r.ID {
			t.Fatalf("claimed from run %d", c.RunID)
		}
		if d == 2 {
			b.mustComplete(c, sluice.AttemptSuccess)
			b.mustComplete(b.claimOne("b"), sluice.AttemptSuccess)
		} else {
			b.mustComplete(c, sluice.AttemptFailed)
		}
	}
	bf, err := b.s.BackfillCreate(b.ctx, &store.BackfillCreateParams{PipelineID: "p", From: day(1), To: day(5),
		Dates: []time.Time{day(1), day(2), day(3), day(4), day(5)}, Rerun: store.RerunFailed, By: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if bf.Total != 4 || bf.Skipped != 1 {
		t.Fatalf("backfill: %d runs, %d skipped; want 4 (3 new, day 3 rerun) and 1", bf.Total, bf.Skipped)
	}
	got, err := b.s.BackfillGet(b.ctx, bf.ID)
	if err != nil || got.Runs[sluice.RunRunning] != 2 || got.Runs[sluice.RunQueued] != 2 || got.State != "running" {
		t.Fatalf("progress = %+v, %v; want 2 running (max_active_runs) and 2 queued", got, err)
	}
	// The oldest dates start first: day 1 and the rerun of day 3.
	running, _ := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: "p", States: []sluice.RunState{sluice.RunRunning}})
	var dates []int
	for _, r := range running {
		dates = append(dates, r.LogicalDate.Day())
	}
	sort.Ints(dates)
	if fmt.Sprint(dates) != "[1 3]" {
		t.Fatalf("running days %v", dates)
	}
	for i := 0; i < 20; i++ {
		cs := b.claim(10)
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			b.mustComplete(c, sluice.AttemptSuccess)
		}
	}
	got, _ = b.s.BackfillGet(b.ctx, bf.ID)
	if got.Runs[sluice.RunSuccess] != 4 || got.State != "done" {
		t.Fatalf("after running: %+v", got)
	}
	r3, _, _ := b.s.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "p", Key: key(3), Kind: store.RunScheduled, LogicalDate: day(3)})
	if r3.State != sluice.RunSuccess {
		t.Fatalf("day 3 after its rerun: %s", r3.State)
	}
	atts, _ := b.s.AttemptListByRun(b.ctx, r3.ID)
	if len(atts) != 3 {
		t.Fatalf("day 3 keeps its history: %d attempts, want the failed one and two new", len(atts))
	}
	// Cancel a backfill midway.
	bf2, err := b.s.BackfillCreate(b.ctx, &store.BackfillCreateParams{PipelineID: "p", From: day(10), To: day(13),
		Dates: []time.Time{day(10), day(11), day(12), day(13)}, Rerun: store.RerunNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.s.BackfillCancel(b.ctx, bf2.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = b.s.BackfillGet(b.ctx, bf2.ID)
	if got.Runs[sluice.RunCancelled] != 4 || got.State != "cancelled" {
		t.Fatalf("after cancel: %+v", got)
	}
	if list, _ := b.s.BackfillList(b.ctx, "p"); len(list) != 2 || list[0].ID != bf2.ID {
		t.Fatalf("list = %v", list)
	}
	if _, err := b.s.BackfillCreate(b.ctx, &store.BackfillCreateParams{PipelineID: "p", Rerun: "sometimes"}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("bad rerun: %v", err)
	}
}

func testLifecycle(t *testing.T, open Opener) {
	b := setup(t, open)
	w := &store.WorkerInfo{ID: "w1", Hostname: "h", PID: 7, Labels: []string{"gpu", "a"}, Concurrency: 4, Version: "v", Problems: []string{"x: not on PATH"}}
	if err := b.s.WorkerUpsert(b.ctx, w); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute)
	w.Draining = true
	if err := b.s.WorkerUpsert(b.ctx, w); err != nil {
		t.Fatal(err)
	}
	ws, err := b.s.WorkerList(b.ctx)
	if err != nil || len(ws) != 1 || fmt.Sprint(ws[0].Labels) != "[a gpu]" || !ws[0].Draining || ws[0].Problems[0] != "x: not on PATH" ||
		!ws[0].StartedAt.Equal(Epoch) || !ws[0].LastSeenAt.Equal(Epoch.Add(time.Minute)) {
		t.Fatalf("workers = %+v, %v", ws[0], err)
	}
	if n, _ := b.s.WorkerPrune(b.ctx, Epoch.Add(30*time.Second)); n != 0 {
		t.Fatal("pruned a live worker")
	}
	if n, _ := b.s.WorkerPrune(b.ctx, Epoch.Add(2*time.Minute)); n != 1 {
		t.Fatal("did not prune a dead worker")
	}
	if err := b.s.WorkerUpsert(b.ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := b.s.WorkerRemove(b.ctx, "w1"); err != nil {
		t.Fatal(err)
	}

	b.saveWith("p", pipelineOpts{maxActiveRuns: 5}, task{id: "gpu", requires: []string{"gpu"}}, task{id: "b", up: []string{"gpu"}})
	if _, err := b.s.PipelineSave(b.ctx, &store.PipelineSaveParams{ID: "sched", Hash: "h", Schedule: "@hourly", MaxActiveRuns: 1, Tasks: []store.VersionTask{{TaskID: "a"}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.PipelineSetMissing(b.ctx, "sched", true); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.s.PipelineListDue(b.ctx, b.clock.Now().Add(time.Hour)); len(due) != 0 {
		t.Fatal("a missing pipeline is due")
	}
	p, _ := b.s.PipelineGet(b.ctx, "sched")
	if !p.Missing {
		t.Fatal("not missing")
	}
	if _, err := b.s.PipelineSave(b.ctx, &store.PipelineSaveParams{ID: "sched", Hash: "h", Schedule: "@hourly", MaxActiveRuns: 1, Tasks: []store.VersionTask{{TaskID: "a"}}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.s.PipelineGet(b.ctx, "sched"); p.Missing {
		t.Fatal("saving the file again does not bring it back")
	}

	r := b.createRun("p", "r")
	b.clock.Advance(time.Minute)
	waiting, err := b.s.InstanceListWaiting(b.ctx, b.clock.Now(), 10)
	if err != nil || len(waiting) != 1 || waiting[0].TaskID != "gpu" || fmt.Sprint(waiting[0].Requires) != "[gpu]" || waiting[0].QueuedTimeout != time.Hour {
		t.Fatalf("waiting = %+v, %v", waiting, err)
	}
	id := waiting[0].ID
	if err := b.s.InstanceSetBlocked(b.ctx, map[int64]string{id: "no live worker has the label gpu"}); err != nil {
		t.Fatal(err)
	}
	ins, _ := b.s.InstanceList(b.ctx, r.ID)
	for _, in := range ins {
		if in.TaskID == "gpu" && in.Blocked != "no live worker has the label gpu" {
			t.Fatalf("blocked = %q", in.Blocked)
		}
	}
	if err := b.s.InstanceFailBlocked(b.ctx, map[int64]string{id: "blocked for 1h: no live worker has the label gpu"}); err != nil {
		t.Fatal(err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"gpu": sluice.InstanceFailed, "b": sluice.InstanceUpstreamFailed})
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s", s)
	}
}

// InstanceSelect keeps the tasks without the items of mapped tasks, the
// items of one task, or one item, of several runs at once.
func testInstanceSelect(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "list"}, task{id: "m", up: []string{"list"}, mapped: true}, task{id: "after", up: []string{"m"}})
	r1 := b.createRun("p", "r1")
	b.mustComplete(b.claimOne("list"), sluice.AttemptSuccess)
	m := b.claimOne("m")
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: m.Lease, Items: []string{"x", "y", "z"}}); err != nil {
		t.Fatal(err)
	}
	r2 := b.createRun("p", "r2")
	sel := func(p store.InstanceSelectParams) []string {
		t.Helper()
		ins, err := b.s.InstanceSelect(b.ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range ins {
			run := map[int64]string{r1.ID: "r1", r2.ID: "r2"}[in.RunID]
			out = append(out, fmt.Sprintf("%s:%s[%d]", run, in.TaskID, in.MapIndex))
		}
		return out
	}
	both := []int64{r2.ID, r1.ID} // by run, then by id (the run made its instances in task order)
	for _, c := range []struct {
		p    store.InstanceSelectParams
		want string
	}{
		{store.InstanceSelectParams{RunIDs: both, Which: store.NoItems}, "[r1:after[-1] r1:list[-1] r1:m[-1] r2:after[-1] r2:list[-1] r2:m[-1]]"},
		{store.InstanceSelectParams{RunIDs: both, TaskID: "m", Which: store.OnlyItems}, "[r1:m[0] r1:m[1] r1:m[2]]"},
		{store.InstanceSelectParams{RunIDs: []int64{m.RunID}, TaskID: "m", Which: store.Item, MapIndex: 1}, "[r1:m[1]]"},
		{store.InstanceSelectParams{RunIDs: []int64{m.RunID}, TaskID: "m", Which: store.Item, MapIndex: 3}, "[]"},
		{store.InstanceSelectParams{RunIDs: []int64{r1.ID}, TaskID: "m"}, "[r1:m[-1] r1:m[0] r1:m[1] r1:m[2]]"},
		{store.InstanceSelectParams{Which: store.NoItems}, "[]"},
	} {
		if got := fmt.Sprint(sel(c.p)); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
}

// AttemptListByID finds attempts by id, in id order, and skips ids that
// are no attempt's.
func testAttemptListByID(t *testing.T, open Opener) {
	b := setup(t, open)
	cs := b.threeRunning()
	b.mustComplete(cs[0], sluice.AttemptSuccess)
	got, err := b.s.AttemptListByID(b.ctx, []int64{cs[2].AttemptID, cs[0].AttemptID, 1 << 40, cs[0].AttemptID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != cs[0].AttemptID || got[1].ID != cs[2].AttemptID {
		t.Fatalf("got %+v", got)
	}
	if got[0].State != sluice.AttemptSuccess || got[1].State != sluice.AttemptRunning || got[1].Token != cs[2].Token || got[1].RunID != cs[2].RunID {
		t.Fatalf("got %+v and %+v", got[0], got[1])
	}
	if none, err := b.s.AttemptListByID(b.ctx, nil); err != nil || len(none) != 0 {
		t.Fatalf("no ids: %v %v", none, err)
	}
}

// threeRunning starts a run of three independent tasks a, b and c and
// claims them: their claims, in attempt id order.
func (b *testBundle) threeRunning() []*store.Claim {
	b.t.Helper()
	b.save("p", 5, task{id: "a"}, task{id: "b"}, task{id: "c"})
	b.createRun("p", "r")
	cs := b.claim(10)
	if len(cs) != 3 {
		b.t.Fatalf("claimed %d", len(cs))
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].AttemptID < cs[j].AttemptID })
	return cs
}
