package sluicetest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile saves content at path whole: written aside (a dot file the
// pipeline loader ignores) and renamed into place, so a server watching
// the folder never reads it half-written. An empty pipeline file would
// report an error the test did not make.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
