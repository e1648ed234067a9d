package storetest

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// finishRun claims and completes every task of a one-task run, with a log
// chunk and an output, so pruning has children to remove.
func (b *testBundle) finishRun(pipelineID, key string) *store.Run {
	b.t.Helper()
	r := b.createRun(pipelineID, key)
	c := b.claimOne("a")
	if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("1 o hello\n")}}); err != nil {
		b.t.Fatal(err)
	}
	if err := b.complete(c, sluice.AttemptSuccess, map[string]string{"rows": "42"}); err != nil {
		b.t.Fatal(err)
	}
	return r
}

func testRetentionPrune(t *testing.T, open Opener) {
	b := setup(t, open)
	b.saveWith("p", pipelineOpts{maxActiveRuns: 5}, task{id: "a"})
	b.saveWith("q", pipelineOpts{maxActiveRuns: 5, retention: 48 * time.Hour}, task{id: "a"})
	b.saveWith("forever", pipelineOpts{maxActiveRuns: 5}, task{id: "b"})
	old := b.finishRun("p", "old")
	running := b.createRun("p", "running")
	b.claimOne("a") // stays running: never pruned, however old
	qOld := b.finishRun("q", "old")
	b.clock.Advance(10 * 24 * time.Hour)
	recent := b.finishRun("p", "recent")
	b.clock.Advance(21 * 24 * time.Hour) // old finished 31 days ago, recent 21

	params := &store.RetentionParams{Default: 30 * 24 * time.Hour, Batch: 1}
	preview, err := b.s.RetentionPreview(b.ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if preview.Rows["runs"] != 2 || preview.Rows["instances"] != 2 || preview.Rows["attempts"] != 2 ||
		preview.Rows["log_chunks"] != 2 || preview.Rows["outputs"] != 2 || preview.LogBytes != 2*int64(len("1 o hello\n")) {
		t.Fatalf("preview = %+v, log bytes %d; want the two old runs with one of each child", preview.Rows, preview.LogBytes)
	}
	if len(preview.Pipelines) != 2 || preview.Pipelines[0].ID != "p" || preview.Pipelines[1].ID != "q" ||
		preview.Pipelines[1].Retention != 48*time.Hour || preview.Pipelines[0].Oldest == nil {
		t.Fatalf("preview pipelines = %+v %+v", preview.Pipelines[0], preview.Pipelines)
	}
	// The preview deleted nothing.
	if _, err := b.s.RunGet(b.ctx, old.ID); err != nil {
		t.Fatalf("the preview deleted a run: %v", err)
	}

	// A batch of one: two prunes, the first says more are due.
	first, err := b.s.RetentionPrune(b.ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if first.Rows["runs"] != 1 || !first.More {
		t.Fatalf("first prune = %+v more=%v, want one run and more", first.Rows, first.More)
	}
	second, err := b.s.RetentionPrune(b.ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if second.Rows["runs"] != 1 || second.More || second.Rows["log_chunks"] != 1 || second.Rows["outputs"] != 1 {
		t.Fatalf("second prune = %+v more=%v, want the last run and no more", second.Rows, second.More)
	}
	for _, r := range []*store.Run{old, qOld} {
		if _, err := b.s.RunGet(b.ctx, r.ID); sluice.ErrorCode(err) != sluice.ENOTFOUND {
			t.Errorf("run %s of %s still there after prune: %v", r.Key, r.PipelineID, err)
		}
		if insts, err := b.s.InstanceList(b.ctx, r.ID); err != nil || len(insts) != 0 {
			t.Errorf("instances of pruned run %d: %v %v", r.ID, insts, err)
		}
	}
	for _, r := range []*store.Run{running, recent} {
		if _, err := b.s.RunGet(b.ctx, r.ID); err != nil {
			t.Errorf("run %s pruned: %v", r.Key, err)
		}
	}
	third, err := b.s.RetentionPrune(b.ctx, params)
	if err != nil || third.Rows["runs"] != 0 || third.More {
		t.Fatalf("a prune with nothing due = %+v, %v", third, err)
	}
	// Retention 0 keeps everything.
	b.clock.Advance(365 * 24 * time.Hour)
	none, err := b.s.RetentionPreview(b.ctx, &store.RetentionParams{})
	if err != nil || none.Rows["runs"] != 0 {
		t.Fatalf("preview with no default retention = %+v, %v; want nothing", none, err)
	}
	// Vacuuming after a prune works whatever the database's settings, and
	// leaves what remains readable.
	if _, err := b.s.RetentionVacuum(b.ctx); err != nil {
		t.Fatalf("vacuum: %v", err)
	}
	if _, err := b.s.RunGet(b.ctx, recent.ID); err != nil {
		t.Fatalf("after a vacuum: %v", err)
	}
}

func testJobLease(t *testing.T, open Opener) {
	b := setup(t, open)
	acquire := func(holder string) bool {
		t.Helper()
		ok, err := b.s.JobAcquire(b.ctx, &store.JobAcquireParams{Name: "retention", Holder: holder, Lease: time.Minute, Every: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !acquire("a") {
		t.Fatal("a could not take a job no one holds")
	}
	if acquire("b") {
		t.Fatal("b took a job a holds")
	}
	b.clock.Advance(30 * time.Second)
	if ok, err := b.s.JobRenew(b.ctx, "retention", "a", time.Minute); err != nil || !ok {
		t.Fatalf("a could not renew: %v %v", ok, err)
	}
	if err := b.s.JobDone(b.ctx, "retention", "a", "pruned 3 runs"); err != nil {
		t.Fatal(err)
	}
	if acquire("b") {
		t.Fatal("b took a job that finished less than its interval ago")
	}
	j, err := b.s.JobGet(b.ctx, "retention")
	if err != nil || j.LastResult != "pruned 3 runs" || !j.LastDoneAt.Equal(b.clock.Now()) {
		t.Fatalf("JobGet = %+v, %v", j, err)
	}
	b.clock.Advance(time.Hour)
	if !acquire("b") {
		t.Fatal("b could not take the job an interval after it finished")
	}
	// b dies: its lease expires, and a takes over; b's renewal then fails.
	b.clock.Advance(2 * time.Minute)
	if !acquire("a") {
		t.Fatal("a could not take over an expired lease")
	}
	if ok, err := b.s.JobRenew(b.ctx, "retention", "b", time.Minute); err != nil || ok {
		t.Fatalf("b renewed a lease it lost: %v %v", ok, err)
	}

	// The config is recorded whether or not the lease is taken; an empty
	// one (a person's cleanup) leaves it as it is.
	for _, c := range []struct{ holder, config, want string }{
		{"c", `{"every":1}`, `{"every":1}`},
		{"d", "", `{"every":1}`},
		{"e", `{"every":2}`, `{"every":2}`},
	} {
		if _, err := b.s.JobAcquire(b.ctx, &store.JobAcquireParams{Name: "retention", Holder: c.holder, Lease: time.Minute, Config: c.config}); err != nil {
			t.Fatal(err)
		}
		if j, err := b.s.JobGet(b.ctx, "retention"); err != nil || j.Config != c.want {
			t.Fatalf("after %s's acquire with config %q: %+v, %v; want config %q", c.holder, c.config, j, err, c.want)
		}
	}
}
