package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testFileArrivals checks what the store decides for files triggers: the
// backlog is taken once per folder, each (path, size, mtime) runs once
// however many schedulers race and even after its run is pruned, a
// replaced file runs again, and a forgotten file is new again.
func testFileArrivals(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 100) // no tasks: a run succeeds at once, so retention can prune it
	start := func(folder string, backlog ...store.FileSeen) bool {
		t.Helper()
		started, err := b.s.FileWatchStart(b.ctx, &store.FileWatchStartParams{PipelineID: "p", Source: "files", Folder: folder, Backlog: backlog})
		if err != nil {
			t.Fatalf("FileWatchStart(%s): %v", folder, err)
		}
		return started
	}
	n := 0
	arrive := func(path string, size, mtime int64) (*store.Run, bool) {
		t.Helper()
		n++
		key := fmt.Sprintf("%s|%d|%d", path, size, mtime)
		r, created, err := b.s.FileArrive(b.ctx, &store.FileArriveParams{
			Run: &store.RunCreateParams{PipelineID: "p", Key: fmt.Sprintf("files__%d", n), Kind: store.RunFiles, LogicalDate: b.clock.Now(),
				Params: []byte(`{}`), Event: &store.TriggerEvent{Source: "files", Key: key}},
			File: store.FileSeen{Path: path, Size: size, MtimeNs: mtime},
		})
		if err != nil {
			t.Fatalf("FileArrive(%s): %v", key, err)
		}
		return r, created
	}

	if !start("/in/*.csv", store.FileSeen{Path: "/in/old.csv", Size: 10, MtimeNs: 1}) {
		t.Fatal("first start: not started")
	}
	if start("/in/*.csv", store.FileSeen{Path: "/in/other.csv", Size: 1, MtimeNs: 1}) {
		t.Fatal("second start of the same folder: started again, want the first backlog kept")
	}
	seen, err := b.s.FileSeenList(b.ctx, "p", "files")
	if err != nil || len(seen) != 1 || seen[0].Path != "/in/old.csv" || seen[0].RunID != nil {
		t.Fatalf("FileSeenList = %v, %v; want the backlog file without a run", seen, err)
	}
	if r, created := arrive("/in/old.csv", 10, 1); created || r != nil {
		t.Fatalf("backlog file: created=%v run=%v, want no run", created, r)
	}

	first, created := arrive("/in/a.csv", 5, 100)
	if !created || first.Kind != store.RunFiles {
		t.Fatalf("new file: created=%v run=%+v", created, first)
	}
	if again, created := arrive("/in/a.csv", 5, 100); created || again == nil || again.ID != first.ID {
		t.Fatalf("same file again: created=%v run=%v, want run %d", created, again, first.ID)
	}
	replaced, created := arrive("/in/a.csv", 6, 200)
	if !created || replaced.ID == first.ID {
		t.Fatalf("replaced file: created=%v run=%v, want a second run", created, replaced)
	}
	// The old backlog file changed too: a new arrival.
	if _, created := arrive("/in/old.csv", 11, 2); !created {
		t.Fatal("changed backlog file: no run")
	}

	// Schedulers racing on one new file make one run.
	var wg sync.WaitGroup
	ids := make(chan int64, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := b.s.FileArrive(b.ctx, &store.FileArriveParams{
				Run: &store.RunCreateParams{PipelineID: "p", Key: fmt.Sprintf("race__%d", i), Kind: store.RunFiles, LogicalDate: b.clock.Now(),
					Event: &store.TriggerEvent{Source: "files", Key: "/in/race.csv|1|1"}},
				File: store.FileSeen{Path: "/in/race.csv", Size: 1, MtimeNs: 1},
			})
			if err != nil {
				t.Errorf("racing FileArrive: %v", err)
				return
			}
			ids <- r.ID
		}()
	}
	wg.Wait()
	close(ids)
	got := map[int64]bool{}
	for id := range ids {
		got[id] = true
	}
	if len(got) != 1 {
		t.Fatalf("8 racing arrivals of one file made runs %v, want one", got)
	}

	// Retention prunes the runs (and their trigger events); the files that
	// stay in the folder do not run again.
	b.clock.Advance(48 * time.Hour)
	for {
		res, err := b.s.RetentionPrune(b.ctx, &store.RetentionParams{Default: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	if r, err := b.s.RunGet(b.ctx, first.ID); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("run %d after retention: %v, %v; want it pruned", first.ID, r, err)
	}
	if r, created := arrive("/in/a.csv", 6, 200); created || r != nil {
		t.Fatalf("file still there after its run was pruned: created=%v run=%v, want no run", created, r)
	}
	// A file that left the folder and came back is a new arrival.
	if err := b.s.FileForget(b.ctx, "p", "files", []string{"/in/a.csv"}); err != nil {
		t.Fatal(err)
	}
	if _, created := arrive("/in/a.csv", 6, 200); !created {
		t.Fatal("file put back after it was forgotten: no run")
	}

	// A large backlog, recorded in batches.
	var big []store.FileSeen
	for i := 0; i < 250; i++ {
		big = append(big, store.FileSeen{Path: fmt.Sprintf("/big/%03d", i), Size: int64(i), MtimeNs: 7})
	}
	if started, err := b.s.FileWatchStart(b.ctx, &store.FileWatchStartParams{PipelineID: "p", Source: "files/big", Folder: "/big/*", Backlog: big}); err != nil || !started {
		t.Fatalf("FileWatchStart with 250 files: %v, %v", started, err)
	}
	if seen, err := b.s.FileSeenList(b.ctx, "p", "files/big"); err != nil || len(seen) != 250 || seen[249].Path != "/big/249" || seen[249].Size != 249 {
		t.Fatalf("FileSeenList after a backlog of 250: %d rows, %v", len(seen), err)
	}

	// Another folder takes its own backlog.
	if !start("/other/*", store.FileSeen{Path: "/other/x", Size: 1, MtimeNs: 1}) {
		t.Fatal("start on a changed folder: not started")
	}
	if _, created := arrive("/other/x", 1, 1); created {
		t.Fatal("backlog file of the new folder: a run")
	}
}

// testFileWatchNotes checks the problems recorded for files triggers.
func testFileWatchNotes(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 100, task{id: "a"})
	if err := b.s.FileWatchNote(b.ctx, "p", "files", "folder /in does not exist"); err != nil {
		t.Fatal(err)
	}
	first := b.clock.Now()
	b.clock.Advance(time.Minute)
	if err := b.s.FileWatchNote(b.ctx, "p", "files", "folder /in does not exist"); err != nil {
		t.Fatal(err)
	}
	ws, err := b.s.FileWatchList(b.ctx, "p")
	if err != nil || len(ws) != 1 || ws[0].Problem != "folder /in does not exist" || ws[0].Folder != "" || ws[0].ProblemAt == nil || !ws[0].ProblemAt.Equal(first) {
		t.Fatalf("FileWatchList = %+v, %v; want the problem since its first note", ws, err)
	}
	if started, err := b.s.FileWatchStart(b.ctx, &store.FileWatchStartParams{PipelineID: "p", Source: "files", Folder: "/in/*"}); err != nil || !started {
		t.Fatalf("FileWatchStart after a note: %v, %v", started, err)
	}
	if err := b.s.FileWatchNote(b.ctx, "p", "files", ""); err != nil {
		t.Fatal(err)
	}
	ws, _ = b.s.FileWatchList(b.ctx, "p")
	if len(ws) != 1 || ws[0].Problem != "" || ws[0].Folder != "/in/*" || ws[0].StartedAt == nil {
		t.Fatalf("FileWatchList after the fix = %+v", ws[0])
	}
	b.save("q", 100, task{id: "a"})
	if err := b.s.FileWatchNote(b.ctx, "q", "files/b", "too many files"); err != nil {
		t.Fatal(err)
	}
	if all, err := b.s.FileWatchList(b.ctx, ""); err != nil || len(all) != 2 || all[0].PipelineID != "p" || all[1].Source != "files/b" {
		t.Fatalf("FileWatchList of every pipeline = %+v, %v", all, err)
	}
	if err := b.s.FileWatchNote(b.ctx, "nope", "files", "x"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("note on a missing pipeline: %v, want ENOTFOUND", err)
	}
	if err := b.s.FileWatchDelete(b.ctx, "p", "files"); err != nil {
		t.Fatal(err)
	}
	if ws, _ := b.s.FileWatchList(b.ctx, "p"); len(ws) != 0 {
		t.Fatalf("FileWatchList after delete = %+v", ws)
	}
}
