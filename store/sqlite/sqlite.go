// Package sqlite is the store of a single sluice process: SQLite through the
// pure-Go modernc.org/sqlite driver, so sluice builds without a C compiler.
//
// Durability: the database runs in WAL mode. With the default
// synchronous=NORMAL a killed process loses nothing that committed, and the
// database is never corrupted; a power loss or kernel crash may roll back
// the last transactions committed before it (those since the last WAL sync),
// never leave half of one. Sync "full" syncs the WAL on every commit and
// loses nothing committed, at the cost of throughput.
//
// Only one process may use a data directory: Open takes an exclusive lock
// and fails with sluice.EDATADIRUSE, naming the holder, when another process
// has it. Several processes need PostgreSQL.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure Open. The zero value is the documented default.
type Options struct {
	// Clock is the store's clock; default sluice.SystemClock.
	Clock sluice.Clock
	// Sync is "normal" (default) or "full"; see the package comment.
	Sync string
	// Holder describes this process in the lock file, e.g. "sluice server";
	// default the command line.
	Holder string
}

// SyncModes are the values of Options.Sync; Open checks for them.
var SyncModes = []string{"normal", "full"}

// Store is the SQLite store.
type Store struct {
	*sqlstore.DB
	dir string
}

var _ store.Store = (*Store)(nil)

// FileName is the database file inside the data directory.
const FileName = "sluice.db"

// Open opens (creating if needed) the store in dir, locks dir for this
// process and applies pending migrations.
func Open(ctx context.Context, dir string, o Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	unlock, err := lockDir(dir, o.Holder)
	if err != nil {
		return nil, err
	}
	sync := o.Sync
	switch sync {
	case "":
		sync = "normal"
	case "normal", "full": // SyncModes
	default:
		unlock()
		return nil, sluice.Errorf(sluice.EINVALID, "sqlite: sync must be normal or full, not %q", o.Sync)
	}
	path := filepath.Join(dir, FileName)
	pragmas := url.Values{}
	// The writer checkpoints the WAL only past walSafetyPages: the
	// checkpointer below does it, off the commit path.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(" + sync + ")",
		fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages)} {
		pragmas.Add("_pragma", p)
	}
	wq := pragmas
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		unlock()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// Write transactions run on one connection the store holds
	// (Dialect.Begin), one at a time: SQLite has one writer at a time
	// anyway, and queueing in Go is cheaper than SQLITE_BUSY retries. The
	// second connection serves what uses the pool directly (migrations
	// before the store holds one, tests).
	w.SetMaxOpenConns(2)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		unlock()
		return nil, explainOpen(path, err)
	}
	rq := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "query_only(1)"} {
		rq.Add("_pragma", p)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		unlock()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetConnMaxIdleTime(time.Minute)
	stopCheckpoints := startCheckpointer(path)
	db := sqlstore.New(sqlstore.Options{
		Dialect: sqlstore.Dialect{
			Name:         "sqlite",
			Retryable:    isBusy,
			PrepareCache: true,
			Begin:        "BEGIN IMMEDIATE",
			Migrations:   mustSub(migrations, "migrations"),
		},
		Write:   w,
		Read:    r,
		Clock:   o.Clock,
		OnClose: func() error { stopCheckpoints(); unlock(); return nil },
	})
	return &Store{DB: db, dir: dir}, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: apply migrations: %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// explainOpen names the database file in an error of opening it, and says
// what to do when the file is damaged or is not a database at all (SQLite
// finds both when it first reads the file: a bad header, a file shorter
// than its header says, a schema it cannot read).
func explainOpen(path string, err error) error {
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	var e *sqlite.Error
	if asSQLiteError(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("sqlite: the database file %s is damaged or is not a sluice database (%v). "+
				"Stop every sluice process that uses it, move it aside with its -wal and -shm files if there are any "+
				"(mv %s %s.damaged), then restore your backup to %s (docs/storage.md, Backups), "+
				"or start again and sluice creates a new, empty database there", path, e, path, path, path)
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("sqlite: cannot open the database file %s (%v): check that it is a file, not a folder, and that this user may read and write it and its folder", path, e)
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return fmt.Errorf("sqlite: cannot write the database file %s (%v): check that this user may write it, its -wal and -shm files and its folder", path, e)
		}
	}
	return fmt.Errorf("sqlite: open %s: %w", path, err)
}

func isBusy(err error) bool {
	var e *sqlite.Error
	if ok := asSQLiteError(err, &e); ok {
		code := e.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// WAL checkpoints. SQLite's own (wal_autocheckpoint, 1,000 pages by
// default) runs inside the commit that crosses the limit, which then
// waits for the checkpoint's fsync: 4-5 ms here, met by about one task
// hop in a hundred. A checkpointer of our own copies the WAL back into
// the database every checkpointEvery on a connection of its own, with
// PASSIVE (it waits for no reader or writer), so commits do not pay for
// it. The writer's own checkpoint stays as a safety net at
// walSafetyPages (about 40 MB of WAL), for when the checkpointer cannot
// keep up. Durability is the same: a checkpoint only moves committed
// pages from the WAL into the database file.
const (
	checkpointEvery = 250 * time.Millisecond
	walSafetyPages  = 10000
)

// startCheckpointer starts the checkpointer of the database at path and
// returns the function that stops it.
func startCheckpointer(path string) (stop func()) {
	c, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return func() {} // the writer's own checkpoint still runs
	}
	c.SetMaxOpenConns(1)
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				// Errors (a busy database) only delay it to the next tick.
				_, _ = c.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		c.Close()
	}
}
