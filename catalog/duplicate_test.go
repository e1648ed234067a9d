package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/store"
)

// other is good with another task command: the same id, another version.
var other = strings.Replace(good, "echo a", "echo other", 1)

// state is a pipeline's stored state: the command its live version runs,
// its error and whether it is missing.
func state(t *testing.T, st store.Store, id string) (source, perr string, missing bool) {
	t.Helper()
	ctx := context.Background()
	p, err := st.PipelineGet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.VersionID != 0 {
		v, err := st.VersionGet(ctx, p.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		source = v.Source
	}
	return source, p.ParseError, p.Missing
}

func TestDuplicateIDNamesEveryFile(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	write(t, filepath.Join(dir, "a.yaml"), good)
	write(t, filepath.Join(dir, "b.yaml"), other)
	write(t, filepath.Join(dir, "sub", "c.yaml"), "# a copy\n"+other)
	mustSync(t, l)
	src, perr, _ := state(t, st, "orders")
	if !strings.Contains(src, "echo a") {
		t.Fatalf("the first file must stay live, live source:\n%s", src)
	}
	for _, want := range []string{`pipeline id "orders" is defined in 3 files`, "/a.yaml:1:5", "/b.yaml:1:5", "/sub/c.yaml:2:5", "loads " + filepath.Join(dir, "a.yaml")} {
		if !strings.Contains(perr, want) {
			t.Errorf("the error lacks %q:\n%s", want, perr)
		}
	}
	// Deleting one of three leaves two: still a duplicate, of those two.
	rm(t, filepath.Join(dir, "sub", "c.yaml"))
	mustSync(t, l)
	if _, perr, _ := state(t, st, "orders"); !strings.Contains(perr, "defined in 2 files") || strings.Contains(perr, "c.yaml") {
		t.Fatalf("after deleting c.yaml the error must name a.yaml and b.yaml only:\n%s", perr)
	}
	// Deleting the copy clears the error at once, though a.yaml did not
	// change.
	rm(t, filepath.Join(dir, "b.yaml"))
	mustSync(t, l)
	if src, perr, missing := state(t, st, "orders"); perr != "" || missing || !strings.Contains(src, "echo a") {
		t.Fatalf("after deleting the copy: error %q, missing %t, source:\n%s", perr, missing, src)
	}
}

func TestDuplicateIDDeletingTheLoadedFile(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	write(t, filepath.Join(dir, "a.yaml"), good)
	write(t, filepath.Join(dir, "b.yaml"), other)
	mustSync(t, l)
	// a.yaml was loaded; when it goes, b.yaml defines the pipeline alone
	// and is loaded: not missing, no error.
	rm(t, filepath.Join(dir, "a.yaml"))
	mustSync(t, l)
	src, perr, missing := state(t, st, "orders")
	if perr != "" || missing || !strings.Contains(src, "echo other") {
		t.Fatalf("after deleting the loaded file: error %q, missing %t, source:\n%s", perr, missing, src)
	}
	if p, _ := st.PipelineGet(context.Background(), "orders"); !strings.HasSuffix(p.File, "b.yaml") {
		t.Fatalf("file = %s, want b.yaml", p.File)
	}
}

func TestDuplicateIDRenames(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	write(t, filepath.Join(dir, "a.yaml"), good)
	write(t, filepath.Join(dir, "b.yaml"), other)
	mustSync(t, l)
	// Renaming the copy keeps the clash, with the new name.
	mv(t, filepath.Join(dir, "b.yaml"), filepath.Join(dir, "sub", "b2.yaml"))
	mustSync(t, l)
	src, perr, _ := state(t, st, "orders")
	if !strings.Contains(perr, "a.yaml") || !strings.Contains(perr, "b2.yaml") || strings.Contains(perr, "b.yaml:") || !strings.Contains(src, "echo a") {
		t.Fatalf("after renaming the copy: error %q, source:\n%s", perr, src)
	}
	// Renaming the loaded file keeps its version live and the clash shown.
	mv(t, filepath.Join(dir, "a.yaml"), filepath.Join(dir, "z.yaml"))
	mustSync(t, l)
	src, perr, missing := state(t, st, "orders")
	if !strings.Contains(perr, "z.yaml") || !strings.Contains(perr, "b2.yaml") || strings.Contains(perr, "a.yaml") || !strings.Contains(src, "echo a") || missing {
		t.Fatalf("after renaming the loaded file: error %q, missing %t, source:\n%s", perr, missing, src)
	}
	// Changing the copy's id ends the clash: both pipelines load.
	write(t, filepath.Join(dir, "sub", "b2.yaml"), strings.Replace(other, "id: orders", "id: orders_v2", 1))
	mustSync(t, l)
	if _, perr, _ := state(t, st, "orders"); perr != "" {
		t.Fatalf("after the copy took another id, orders still has: %s", perr)
	}
	if src, perr, _ := state(t, st, "orders_v2"); perr != "" || !strings.Contains(src, "echo other") {
		t.Fatalf("orders_v2: error %q, source:\n%s", perr, src)
	}
}

// TestFileChangesID checks that a file that now defines another id leaves
// its old pipeline missing, as deleting the file would.
func TestFileChangesID(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	path := filepath.Join(dir, "a.yaml")
	write(t, path, good)
	mustSync(t, l)
	write(t, path, strings.Replace(good, "id: orders", "id: sales", 1))
	mustSync(t, l)
	if _, _, missing := state(t, st, "orders"); !missing {
		t.Fatal("orders is no longer defined by any file but is not missing")
	}
	if _, perr, missing := state(t, st, "sales"); perr != "" || missing {
		t.Fatalf("sales: error %q, missing %t", perr, missing)
	}
}

// TestDuplicateClearedOnEvent checks that the watcher, not only a rescan,
// clears the clash when the copy is deleted.
func TestDuplicateClearedOnEvent(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	write(t, filepath.Join(dir, "a.yaml"), good)
	write(t, filepath.Join(dir, "b.yaml"), other)
	mustSync(t, l)
	if _, perr, _ := state(t, st, "orders"); perr == "" {
		t.Fatal("no duplicate error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx, time.Hour) // only events can bring the change in
	deadline := time.Now().Add(10 * time.Second)
	copyPath := filepath.Join(dir, "b.yaml")
	for {
		// Until the watcher is set up: put the copy back and delete it.
		write(t, copyPath, other)
		rm(t, copyPath)
		if _, perr, _ := state(t, st, "orders"); perr == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("deleting the copy did not clear the duplicate error on its file system event")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustSync syncs l, failing the test on a store or folder error.
func mustSync(t *testing.T, l *catalog.Loader) {
	t.Helper()
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mv(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func TestIDAt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		src       string
		line, col int
	}{
		{"id: orders\n", 1, 5},
		{"# a comment\n\nid:   \"orders\"  # note\n", 3, 7},
		{"'id': orders\n", 1, 7},
		{"tasks:\n  a:\n    id: not-the-pipeline\nid: orders\n", 4, 5},
		{"{id: orders, tasks: {a: {noop: true}}}\n", 0, 0},
		{"tasks: {}\n", 0, 0},
	} {
		if line, col := catalog.IDAt([]byte(tt.src)); line != tt.line || col != tt.col {
			t.Errorf("IDAt(%q) = %d:%d, want %d:%d", tt.src, line, col, tt.line, tt.col)
		}
	}
}
