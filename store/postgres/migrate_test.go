package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/storetest"
)

// TestMigrationLockOfDeadProcess: a process that died holding the
// migration lock keeps others waiting until its lease ends, not for good
// (a session advisory lock would go with its connection, but a pooler may
// keep that connection; the lock is a row with a lease instead).
func TestMigrationLockOfDeadProcess(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	openStore(t, url, postgres.Options{}).Close()
	db := pgtest.Require(t)
	schema := pgtest.SchemaOf(url)
	// The last migration (retry-safe) is pending again, so the next
	// process must take the lock (with nothing pending, none is taken).
	var last int64
	if err := db.QueryRow(`SELECT max(version_id) FROM ` + schema + `.goose_db_version`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM `+schema+`.goose_db_version WHERE version_id = $1`, last); err != nil {
		t.Fatal(err)
	}
	start := time.Now() // before the lease's clock starts
	res, err := db.Exec(`UPDATE ` + schema + `.sluice_migration_lock
		SET locked = true, locked_by = 'a dead process', lease_expires_at = now() + interval '2 seconds'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%d lock rows, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatalf("open with a dead holder's lock: %v", err)
	}
	s.Close()
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("opened after %v, while the dead holder's lease still ran", waited)
	}
	var applied int
	if err := db.QueryRow(`SELECT count(*) FROM `+schema+`.goose_db_version WHERE version_id = $1`, last).Scan(&applied); err != nil || applied != 1 {
		t.Fatalf("migration %d applied %d times once the lock was free (%v)", last, applied, err)
	}
}

// TestMigrateWithOneConnection: a process allowed a single connection
// still migrates a fresh schema (the migration needs three at once) and
// then keeps to its one.
func TestMigrateWithOneConnection(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatalf("open a fresh schema with one connection: %v", err)
	}
	defer s.Close()
	savePipeline(t, s)
	if st := s.Write().Stats(); st.MaxOpenConnections != 1 {
		t.Fatalf("pool allows %d connections after migrating, want 1", st.MaxOpenConnections)
	}
}

// TestLegacyTokens migrates tokens made before they had owners.
func TestLegacyTokens(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), storetest.LegacyTokensVersion); err != nil {
		t.Fatal(err)
	}
	storetest.LegacyTokens(t, db, func() store.Store { return openStore(t, url, postgres.Options{}) })
}
