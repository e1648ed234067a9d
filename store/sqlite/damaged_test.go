package sqlite_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestOpenDamagedFile checks the error of opening a data directory whose
// database file is damaged or is not a database: it names the file and
// says what to do, and the file is left as it was.
func TestOpenDamagedFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			_, _ = rand.Read(b)
			must(t, os.WriteFile(path, b, 0o644))
		}},
		{"text", func(t *testing.T, path string) {
			must(t, os.WriteFile(path, []byte("these are my notes, not a database\n"), 0o644))
		}},
		{"truncated", func(t *testing.T, path string) {
			// A real sluice database with some pages, cut in half.
			dir := t.TempDir()
			st, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
			must(t, err)
			for i := range 40 {
				src := "id: p" + strings.Repeat("x", i) + "\ndescription: " + strings.Repeat("padding ", 200) + "\ntasks:\n  a:\n    run: echo hi\n"
				p, err := pipeline.Parse("p.yaml", []byte(src))
				must(t, err)
				_, err = st.PipelineSave(context.Background(), catalog.SaveParams(p, []byte(src), ""))
				must(t, err)
			}
			must(t, st.Close())
			data, err := os.ReadFile(filepath.Join(dir, sqlite.FileName))
			must(t, err)
			must(t, os.WriteFile(path, data[:len(data)/2], 0o644))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, sqlite.FileName)
			tt.write(t, path)
			before, err := os.ReadFile(path)
			must(t, err)
			st, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
			if err == nil {
				st.Close()
				t.Fatal("a damaged database opened")
			}
			msg := err.Error()
			for _, want := range []string{path, "is damaged or is not a sluice database", "Stop every sluice process", "mv " + path + " " + path + ".damaged", "restore your backup", "new, empty database"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the error lacks %q:\n%s", want, msg)
				}
			}
			after, err := os.ReadFile(path)
			must(t, err)
			if string(after) != string(before) {
				t.Error("opening changed the damaged file")
			}
			// The lock is released: once the file is moved aside, the
			// directory opens with a new database.
			must(t, os.Rename(path, path+".damaged"))
			st, err = sqlite.Open(context.Background(), dir, sqlite.Options{})
			if err != nil {
				t.Fatalf("after moving the file aside: %v", err)
			}
			st.Close()
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenFolderAsFile checks the error when the database's path is a
// folder: it names it and says what to check.
func TestOpenFolderAsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, sqlite.FileName)
	must(t, os.Mkdir(path, 0o755))
	st, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err == nil {
		st.Close()
		t.Fatal("a folder opened as the database")
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot open the database file "+path) || !strings.Contains(msg, "check that it is a file, not a folder") {
		t.Fatalf("error: %s", msg)
	}
}
