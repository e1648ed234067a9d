package catalog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

func setup(t testing.TB) (store.Store, *catalog.Loader, string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	return st, catalog.NewLoader(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil))), dir
}

// write writes a file and moves its modification time on, so a rewrite
// within the same clock tick is still seen as a change.
func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := os.Stat(path)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if old != nil {
		mt := old.ModTime().Add(time.Second)
		_ = os.Chtimes(path, mt, mt)
	}
}

const good = "id: orders\nschedule: \"@daily\"\ntasks:\n  a:\n    run: echo a\n"

func TestLoadsFolder(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	write(t, filepath.Join(dir, "orders.yaml"), good)
	write(t, filepath.Join(dir, "team", "billing.yml"), "id: billing\ntasks:\n  x:\n    noop: true\n")
	write(t, filepath.Join(dir, "README.md"), "not a pipeline")
	write(t, filepath.Join(dir, ".hidden", "skip.yaml"), "id: skip\ntasks: {}\n")
	res, err := l.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("results = %+v", res)
	}
	ps, _ := st.PipelineList(context.Background())
	if len(ps) != 2 || ps[0].ID != "billing" || ps[1].ID != "orders" || ps[1].Schedule != "@daily" || !strings.HasSuffix(ps[1].File, "orders.yaml") {
		t.Fatalf("pipelines = %+v", ps)
	}
	// Nothing changed: nothing is parsed again.
	if res, _ := l.Sync(context.Background()); len(res) != 0 {
		t.Fatalf("unchanged files reloaded: %+v", res)
	}
}

func TestBrokenEditKeepsLastGoodVersion(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	path := filepath.Join(dir, "orders.yaml")
	write(t, path, good)
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := st.PipelineGet(context.Background(), "orders")
	write(t, path, "id: orders\ntasks:\n  a:\n    run: echo a\n    retries: many\n")
	res, err := l.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Err == nil || res[0].ID != "orders" {
		t.Fatalf("results = %+v", res)
	}
	after, _ := st.PipelineGet(context.Background(), "orders")
	if after.VersionID != before.VersionID || !strings.Contains(after.ParseError, "orders.yaml:5:14: retries: want an integer") {
		t.Fatalf("after a broken edit: version %d (was %d), error %q", after.VersionID, before.VersionID, after.ParseError)
	}
	write(t, path, strings.Replace(good, "echo a", "echo b", 1))
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	fixed, _ := st.PipelineGet(context.Background(), "orders")
	if fixed.VersionID == before.VersionID || fixed.ParseError != "" {
		t.Fatalf("after the fix: %+v", fixed)
	}
}

func TestDuplicateIDs(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	write(t, filepath.Join(dir, "a.yaml"), good)
	write(t, filepath.Join(dir, "b.yaml"), strings.Replace(good, "echo a", "echo other", 1))
	res, err := l.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Err != nil || res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "is defined in 2 files") {
		t.Fatalf("results = %+v", res)
	}
	p, _ := st.PipelineGet(context.Background(), "orders")
	v, _ := st.VersionGet(context.Background(), p.VersionID)
	if !strings.Contains(v.Source, "echo a") || !strings.Contains(p.ParseError, "b.yaml") {
		t.Fatalf("the first file must stay live and the clash be shown: %q / %q", v.Source, p.ParseError)
	}
}

func TestPeekID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ src, path, want string }{
		{"id: orders\ntasks: [oops", "x.yaml", "orders"},
		{"# c\nid: \"q.v2\"  # note\n", "x.yaml", "q.v2"},
		{"tasks: {}\n", "dir/fallback.yml", "fallback"},
	} {
		if got := catalog.PeekID([]byte(tt.src), tt.path); got != tt.want {
			t.Errorf("PeekID(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestRemovedFileMarksMissing(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	path := filepath.Join(dir, "orders.yaml")
	write(t, path, good)
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, _ := st.PipelineGet(context.Background(), "orders")
	if !p.Missing || p.VersionID == 0 {
		t.Fatalf("after its file went: %+v", p)
	}
	// A new loader (a restart) also sees it gone, and the file's return
	// brings the pipeline back.
	write(t, path, good)
	l2 := catalog.NewLoader(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := l2.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.PipelineGet(context.Background(), "orders"); p.Missing {
		t.Fatal("still missing after the file came back")
	}
}

func TestRunReloadsOnEvents(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx, time.Hour) // only events can bring the change in
	path := filepath.Join(dir, "orders.yaml")
	deadline := time.Now().Add(10 * time.Second)
	for {
		write(t, path, good) // until the watcher is set up
		if p, err := st.PipelineGet(context.Background(), "orders"); err == nil && p.VersionID != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a saved file was not loaded on its file system event")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A hostile edit in the folder (deep nesting, a billion laughs, a file past
// the size limit) is refused with a positioned error like any broken edit,
// and the last good version stays live.
func TestHostileEditKeepsLastGoodVersion(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	path := filepath.Join(dir, "orders.yaml")
	write(t, path, good)
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := st.PipelineGet(context.Background(), "orders")
	laughs := "id: orders\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 10; i++ {
		laughs += fmt.Sprintf("l%d: &l%d [%s*l%d]\n", i, i, strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), i-1)
	}
	for _, c := range []struct{ src, want string }{
		{"id: orders\nx: " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "\n", "orders.yaml:2:67: nesting deeper than 64 levels"},
		{laughs + "tasks: {a: {run: x}}\n", "aliases here make the file hold"},
		{good + strings.Repeat("# "+strings.Repeat("x", 98)+"\n", 50_000), "the most a pipeline file may have"},
	} {
		write(t, path, c.src)
		if _, err := l.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		after, _ := st.PipelineGet(context.Background(), "orders")
		if after.VersionID != before.VersionID || !strings.Contains(after.ParseError, c.want) {
			t.Fatalf("after a hostile edit: version %d (was %d), error %q, want %q", after.VersionID, before.VersionID, after.ParseError, c.want)
		}
	}
}
