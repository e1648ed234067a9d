package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clock sluice.Clock) store.Store {
		s, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOneProcessPerDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{Holder: "sluice server"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(context.Background(), dir, sqlite.Options{})
	if sluice.ErrorCode(err) != sluice.EDATADIRUSE {
		t.Fatalf("second open: %v, want data dir in use", err)
	}
	for _, want := range []string{"in use by pid", "sluice server", "PostgreSQL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	s.Close()
	s2, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s2.Close()
}

// TestLegacyTokens migrates tokens made before they had owners.
func TestLegacyTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), storetest.LegacyTokensVersion); err != nil {
		t.Fatal(err)
	}
	storetest.LegacyTokens(t, db, func() store.Store {
		s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
