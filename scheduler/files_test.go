package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// filesBundle is a store (SQLite or PostgreSQL) on a clock the test moves,
// and a temp folder to drop files into.
type filesBundle struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	clock *sluicetest.Clock
	dir   string
	// open returns another handle on the same database, as a second
	// scheduler process would have; on SQLite (one process) the same one.
	open func() store.Store
}

// onBothStores runs fn against SQLite and against PostgreSQL.
func onBothStores(t *testing.T, fn func(t *testing.T, b *filesBundle)) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		clock := sluicetest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, &filesBundle{t: t, ctx: context.Background(), st: st, clock: clock, dir: t.TempDir(), open: func() store.Store { return st }})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.Schema(t)
		clock := sluicetest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		open := func() store.Store {
			s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4, Logger: quiet, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		fn(t, &filesBundle{t: t, ctx: context.Background(), st: open(), clock: clock, dir: t.TempDir(), open: open})
	})
}

// save stores a pipeline whose files trigger watches folder with the
// given extra settings (YAML flow entries such as "existing: run").
func (b *filesBundle) save(id, folder, extra string) {
	b.t.Helper()
	if extra != "" {
		extra = ", " + extra
	}
	src := fmt.Sprintf(`id: %s
params:
  path: {type: string, required: true}
  size: {type: int, default: -1}
  mtime: {type: string, default: ""}
triggers:
  - files: {path: %q, pattern: "*.csv", stable_for: 10s%s,
            params: {path: "${{ file.path }}", size: "${{ file.size }}", mtime: "${{ file.mtime }}"}}
tasks:
  a: {noop: true}
`, id, folder, extra)
	b.saveSource(src)
}

func (b *filesBundle) saveSource(src string) {
	b.t.Helper()
	p, err := pipeline.Parse("p.yaml", []byte(src))
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.st.PipelineSave(b.ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
		b.t.Fatal(err)
	}
}

func (b *filesBundle) scheduler(st store.Store) *scheduler.Scheduler {
	return scheduler.New(scheduler.Config{Store: st, Clock: b.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetentionEvery: -1})
}

func (b *filesBundle) scan(s *scheduler.Scheduler) {
	b.t.Helper()
	if err := s.ScanFiles(b.ctx); err != nil {
		b.t.Fatalf("ScanFiles: %v", err)
	}
}

// write writes a file in the bundle's folder (or appends to it).
func (b *filesBundle) write(name, content string, appendTo bool) {
	b.t.Helper()
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(filepath.Join(b.dir, name), flag, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		b.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.t.Fatal(err)
	}
}

type fileRun struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Mtime string `json:"mtime"`
}

// runs returns the params of the pipeline's runs, oldest first.
func (b *filesBundle) runs(pipelineID string) []fileRun {
	b.t.Helper()
	rs, err := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: pipelineID, Limit: 1000})
	if err != nil {
		b.t.Fatal(err)
	}
	out := make([]fileRun, len(rs))
	for i, r := range rs {
		if r.Kind != store.RunFiles {
			b.t.Fatalf("run %d is a %s run, want files", r.ID, r.Kind)
		}
		if err := json.Unmarshal(r.Params, &out[len(rs)-1-i]); err != nil {
			b.t.Fatal(err)
		}
	}
	return out
}

// TestFilesStableThenReplaced: a file still being written gets no run
// until it stayed unchanged for stable_for; then one run with its path,
// size and mtime; replaced, it gets a second. Names the pattern does not
// match, and hidden partial files, get none.
func TestFilesStableThenReplaced(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, b *filesBundle) {
		b.save("drop", b.dir, "")
		s := b.scheduler(b.st)
		b.scan(s) // the first watch: an empty backlog
		b.write("orders.csv", "id,amount\n", false)
		b.write("notes.txt", "not a csv\n", false)
		b.write(".orders2.csv.part", "partial upload\n", false)
		b.scan(s)
		b.clock.Advance(9 * time.Second)
		b.scan(s)
		b.write("orders.csv", "1,10\n", true) // still growing
		b.scan(s)
		b.clock.Advance(9 * time.Second)
		b.scan(s)
		if got := b.runs("drop"); len(got) != 0 {
			t.Fatalf("runs while the file was growing: %+v", got)
		}
		b.clock.Advance(time.Second)
		b.scan(s)
		got := b.runs("drop")
		full := filepath.Join(b.dir, "orders.csv")
		fi, _ := os.Stat(full)
		if len(got) != 1 || got[0].Path != full || got[0].Size != int64(len("id,amount\n1,10\n")) || got[0].Mtime != fi.ModTime().UTC().Format(time.RFC3339Nano) {
			t.Fatalf("runs after stable_for = %+v, want one for %s of %d bytes at %s", got, full, len("id,amount\n1,10\n"), fi.ModTime().UTC().Format(time.RFC3339Nano))
		}
		b.clock.Advance(time.Minute)
		b.scan(s)
		if got := b.runs("drop"); len(got) != 1 {
			t.Fatalf("a file that did not change ran again: %+v", got)
		}
		// Replaced: a new version is a new arrival.
		b.write("orders.csv", "id,amount\n2,20\n3,30\n", false)
		b.scan(s)
		b.clock.Advance(10 * time.Second)
		b.scan(s)
		b.scan(s)
		got = b.runs("drop")
		if len(got) != 2 || got[1].Size != int64(len("id,amount\n2,20\n3,30\n")) {
			t.Fatalf("runs after the file was replaced = %+v, want a second one", got)
		}
		// A path longer than an event key may be: its key is a hash.
		long := strings.Repeat("n", 200) + ".csv"
		b.write(long, "x", false)
		b.scan(s)
		b.clock.Advance(10 * time.Second)
		b.scan(s)
		b.scan(s)
		if got = b.runs("drop"); len(got) != 3 || got[2].Path != filepath.Join(b.dir, long) {
			t.Fatalf("runs after a file with a long name = %+v, want a third one", got)
		}
	})
}

// TestFilesExisting: the files already in the folder at the first watch
// run with existing: run and not with existing: ignore (the default), and
// that answer is the store's: a restarted scheduler, with nothing in
// memory, gives the same.
func TestFilesExisting(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, b *filesBundle) {
		ignoreDir, runDir := filepath.Join(b.dir, "ignore"), filepath.Join(b.dir, "run")
		for _, d := range []string{ignoreDir, runDir} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("old%d.csv", i)), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		b.save("ignore", ignoreDir, "")
		b.save("run", runDir, "existing: run")
		s := b.scheduler(b.st)
		b.scan(s)
		b.clock.Advance(10 * time.Second)
		b.scan(s)
		if got := b.runs("ignore"); len(got) != 0 {
			t.Fatalf("existing: ignore ran the backlog: %+v", got)
		}
		if got := b.runs("run"); len(got) != 3 {
			t.Fatalf("existing: run made %d runs for 3 files: %+v", len(got), got)
		}
		// A restart: a new scheduler knows nothing but the store.
		s = b.scheduler(b.open())
		if err := os.WriteFile(filepath.Join(ignoreDir, "new.csv"), []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.scan(s)
		b.clock.Advance(10 * time.Second)
		b.scan(s)
		if got := b.runs("ignore"); len(got) != 1 || got[0].Path != filepath.Join(ignoreDir, "new.csv") {
			t.Fatalf("after a restart, existing: ignore ran %+v; want only new.csv", got)
		}
		if got := b.runs("run"); len(got) != 3 {
			t.Fatalf("after a restart, existing: run ran again: %d runs", len(got))
		}
	})
}

// TestFilesRacingSchedulers: two schedulers, each with its own
// connections, watch one folder from the first watch on and scan it at
// the same moments; every file runs once.
func TestFilesRacingSchedulers(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, b *filesBundle) {
		for i := 0; i < 5; i++ {
			b.write(fmt.Sprintf("backlog%d.csv", i), "old", false)
		}
		b.save("drop", b.dir, "")
		scheds := []*scheduler.Scheduler{b.scheduler(b.st), b.scheduler(b.open())}
		together := func() {
			var wg sync.WaitGroup
			for _, s := range scheds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.ScanFiles(b.ctx); err != nil {
						t.Errorf("ScanFiles: %v", err)
					}
				}()
			}
			wg.Wait()
		}
		together() // both take the first watch at once: one backlog
		const files = 40
		for i := 0; i < files; i++ {
			b.write(fmt.Sprintf("f%02d.csv", i), strings.Repeat("x", i+1), false)
		}
		together()
		b.clock.Advance(10 * time.Second)
		together()
		together()
		got := b.runs("drop")
		seen := map[string]int{}
		for _, r := range got {
			seen[r.Path]++
		}
		if len(got) != files || len(seen) != files {
			t.Fatalf("%d runs for %d distinct files, want %d each once: %v", len(got), len(seen), files, seen)
		}
		for p := range seen {
			if strings.Contains(p, "backlog") {
				t.Fatalf("a backlog file ran: %s", p)
			}
		}
	})
}

// TestFilesPausedMissingRemoved: a paused pipeline gets no runs, and the
// files that arrived meanwhile run when it is unpaused; a missing folder
// is a note on the pipeline, gone when the folder appears; a removed
// trigger stops watching and is forgotten.
func TestFilesPausedMissingRemoved(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, b *filesBundle) {
		folder := filepath.Join(b.dir, "later")
		b.save("drop", folder, "")
		s := b.scheduler(b.st)
		b.scan(s)
		ws, err := b.st.FileWatchList(b.ctx, "drop")
		if err != nil || len(ws) != 1 || !strings.Contains(ws[0].Problem, "folder "+folder+" does not exist") {
			t.Fatalf("FileWatchList with the folder missing = %+v, %v; want a note that it does not exist", ws, err)
		}
		if err := os.Mkdir(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		b.scan(s)
		if ws, _ := b.st.FileWatchList(b.ctx, "drop"); len(ws) != 1 || ws[0].Problem != "" || ws[0].StartedAt == nil {
			t.Fatalf("FileWatchList once the folder is there = %+v, want it watched, no problem", ws[0])
		}

		if err := b.st.PipelineSetPaused(b.ctx, "drop", true); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "a.csv"), []byte("a"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.scan(s)
		b.clock.Advance(time.Minute)
		b.scan(s)
		if got := b.runs("drop"); len(got) != 0 {
			t.Fatalf("runs while paused: %+v", got)
		}
		if err := b.st.PipelineSetPaused(b.ctx, "drop", false); err != nil {
			t.Fatal(err)
		}
		b.scan(s)
		if got := b.runs("drop"); len(got) != 1 {
			t.Fatalf("after unpausing, %d runs for the file that arrived while paused, want 1", len(got))
		}

		// The trigger goes: no more runs, nothing remembered.
		b.saveSource("id: drop\ntasks:\n  a: {noop: true}\n")
		b.scan(s)
		if err := os.WriteFile(filepath.Join(folder, "b.csv"), []byte("b"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.scan(s)
		b.clock.Advance(time.Minute)
		b.scan(s)
		if got := b.runs("drop"); len(got) != 1 {
			t.Fatalf("runs after the trigger was removed: %+v", got)
		}
		if ws, _ := b.st.FileWatchList(b.ctx, "drop"); len(ws) != 0 {
			t.Fatalf("the removed trigger is still remembered: %+v", ws)
		}
	})
}

// TestFilesPerScanBound: a folder with more matching files than a scan
// looks at gets a note, and its first files by name run; when they leave,
// the next ones do.
func TestFilesPerScanBound(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, b *filesBundle) {
		b.save("drop", b.dir, "")
		s := scheduler.New(scheduler.Config{Store: b.st, Clock: b.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetentionEvery: -1, FilesPerScan: 3})
		b.scan(s)
		for i := 0; i < 5; i++ {
			b.write(fmt.Sprintf("f%d.csv", i), "x", false)
		}
		b.scan(s)
		b.clock.Advance(10 * time.Second)
		b.scan(s)
		if got := b.runs("drop"); len(got) != 3 || got[2].Path != filepath.Join(b.dir, "f2.csv") {
			t.Fatalf("runs with 5 files and 3 per scan = %+v, want f0, f1, f2", got)
		}
		ws, _ := b.st.FileWatchList(b.ctx, "drop")
		if len(ws) != 1 || !strings.Contains(ws[0].Problem, "5 files in") {
			t.Fatalf("FileWatchList = %+v, want a note on the 5 files", ws)
		}
		for i := 0; i < 3; i++ {
			if err := os.Remove(filepath.Join(b.dir, fmt.Sprintf("f%d.csv", i))); err != nil {
				t.Fatal(err)
			}
		}
		b.scan(s)
		b.clock.Advance(10 * time.Second)
		b.scan(s)
		if got := b.runs("drop"); len(got) != 5 {
			t.Fatalf("after the first files left, %d runs, want 5", len(got))
		}
		if ws, _ := b.st.FileWatchList(b.ctx, "drop"); ws[0].Problem != "" {
			t.Fatalf("the note stayed: %q", ws[0].Problem)
		}
	})
}

// TestFilesParamsRefused: a file whose params do not bind (a name where
// an int is wanted) starts no run and is noted on the pipeline; once the
// pipeline is fixed, it runs.
func TestFilesParamsRefused(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, b *filesBundle) {
		src := func(typ string) string {
			return fmt.Sprintf("id: drop\nparams:\n  n: {type: %s, required: true}\ntriggers:\n  - files: {path: %q, stable_for: 0s, params: {n: \"${{ file.name }}\"}}\ntasks:\n  a: {noop: true}\n", typ, b.dir)
		}
		b.saveSource(src("int"))
		s := b.scheduler(b.st)
		b.scan(s)
		b.write("x.csv", "x", false)
		b.scan(s)
		b.scan(s)
		if rs, _ := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "drop"}); len(rs) != 0 {
			t.Fatalf("a run with params that do not bind: %+v", rs[0])
		}
		ws, _ := b.st.FileWatchList(b.ctx, "drop")
		if len(ws) != 1 || !strings.Contains(ws[0].Problem, `param "n": want an int`) || !strings.Contains(ws[0].Problem, "x.csv") {
			t.Fatalf("FileWatchList = %+v, want a note naming the file and the param", ws)
		}
		b.saveSource(src("string"))
		b.scan(s)
		rs, _ := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "drop"})
		if len(rs) != 1 || string(rs[0].Params) != `{"n":"x.csv"}` {
			t.Fatalf("after the fix, runs = %+v, want one with n = x.csv", rs)
		}
		if ws, _ := b.st.FileWatchList(b.ctx, "drop"); ws[0].Problem != "" {
			t.Fatalf("the note stayed: %q", ws[0].Problem)
		}
	})
}

// TestFilesWatcherLoop runs a scheduler as a server does, on the real
// clock: a file moved into the folder runs without anyone scanning by
// hand (fsnotify or the poll), and removing the trigger stops the watch.
func TestFilesWatcherLoop(t *testing.T) {
	t.Parallel()
	clock := sluicetest.NewClock(time.Now()) // moved by hand below, for the stores' timestamps only
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &filesBundle{t: t, ctx: context.Background(), st: st, clock: clock, dir: t.TempDir()}
	b.saveSource(fmt.Sprintf("id: drop\nparams:\n  path: {type: string, default: \"\"}\ntriggers:\n  - files: {path: %q, stable_for: 0s, params: {path: \"${{ file.path }}\"}}\ntasks:\n  a: {noop: true}\n", b.dir))
	ctx, cancel := context.WithCancel(context.Background())
	s := scheduler.New(scheduler.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetentionEvery: -1, Interval: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitUntil("the first watch", func() bool {
		ws, _ := st.FileWatchList(b.ctx, "drop")
		return len(ws) == 1 && ws[0].StartedAt != nil
	})
	sluicetest.WriteFile(t, filepath.Join(b.dir, "a.csv"), "a")
	waitUntil("a run for a.csv", func() bool {
		rs, _ := st.RunList(b.ctx, &store.RunListParams{PipelineID: "drop"})
		return len(rs) == 1
	})
	b.saveSource("id: drop\ntasks:\n  a: {noop: true}\n")
	waitUntil("the watch to be forgotten", func() bool {
		ws, _ := st.FileWatchList(b.ctx, "drop")
		return len(ws) == 0
	})
	sluicetest.WriteFile(t, filepath.Join(b.dir, "b.csv"), "b")
	// The watcher is gone: a scan by hand sees no trigger either.
	if err := s.ScanFiles(b.ctx); err != nil {
		t.Fatal(err)
	}
	if rs, _ := st.RunList(b.ctx, &store.RunListParams{PipelineID: "drop"}); len(rs) != 1 {
		t.Fatalf("%d runs after the trigger was removed, want 1", len(rs))
	}
}

// TestFileEventKey: the dedup key of an arrival is its path, size and
// mtime while that fits a trigger event key, their hash when it does not;
// another size or mtime is another key.
func TestFileEventKey(t *testing.T) {
	t.Parallel()
	if got := scheduler.FileEventKey("/in/a.csv", 10, 1700000000123456789); got != "/in/a.csv|10|1700000000123456789" {
		t.Fatalf("short key = %q", got)
	}
	long := "/in/" + strings.Repeat("x", 250) + ".csv"
	k := scheduler.FileEventKey(long, 10, 1)
	if len(k) > store.MaxEventKeyLen || !strings.HasPrefix(k, "sha256:") || k != scheduler.FileEventKey(long, 10, 1) {
		t.Fatalf("long key = %q (%d bytes), want a stable hash of at most %d bytes", k, len(k), store.MaxEventKeyLen)
	}
	// The key reads back, also for a path holding the separator; a hashed
	// one names no file.
	for _, f := range []struct {
		path        string
		size, mtime int64
	}{{"/in/a.csv", 10, 1700000000123456789}, {"/in/a|b|1.csv", 0, -5}} {
		p, size, mtime, ok := scheduler.ParseFileEventKey(scheduler.FileEventKey(f.path, f.size, f.mtime))
		if !ok || p != f.path || size != f.size || mtime != f.mtime {
			t.Errorf("ParseFileEventKey(FileEventKey(%q, %d, %d)) = %q, %d, %d, %v", f.path, f.size, f.mtime, p, size, mtime, ok)
		}
	}
	for _, bad := range []string{k, "", "/in/a.csv", "/in/a.csv|x|1", "|1|2", "/in/a.csv|-1|2"} {
		if p, _, _, ok := scheduler.ParseFileEventKey(bad); ok {
			t.Errorf("ParseFileEventKey(%q) = %q, want no file", bad, p)
		}
	}
	seen := map[string]bool{}
	for _, key := range []string{k, scheduler.FileEventKey(long, 11, 1), scheduler.FileEventKey(long, 10, 2), scheduler.FileEventKey("/in/a.csv", 10, 2)} {
		if seen[key] {
			t.Fatalf("two versions of a file share the key %q", key)
		}
		seen[key] = true
	}
}
