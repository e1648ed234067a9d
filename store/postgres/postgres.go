// Package postgres is the store for many sluice processes on many machines:
// PostgreSQL through pgx, sharing one implementation with the SQLite store
// (store/sqlstore). Processes cooperate through the database alone: row
// locks (FOR UPDATE SKIP LOCKED for claims), unique keys, and NOTIFY as a
// wake-up hint with polling as the fallback.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure Open. The zero value is the documented default.
type Options struct {
	// Clock overrides the store's clock. By default the store uses this
	// machine's clock corrected by its measured offset from the database
	// server's, so leases compare the same on every machine.
	Clock sluice.Clock
	// MaxConns bounds the connection pool; default 8.
	MaxConns int
	// NoListen keeps no state on a connection beyond a transaction, for
	// transaction-pooling proxies such as PgBouncer in transaction mode:
	// no LISTEN (waiters rely on polling), and statements are sent
	// without named prepared statements (pgx's "exec" mode) unless the
	// URL sets default_query_exec_mode itself (PgBouncer 1.21+ with
	// max_prepared_statements can keep the faster default).
	NoListen bool
	// NotifyWindow is the debounce window of outgoing notifications of
	// ready work: at most one is sent at once, and one more at the end of
	// the window if more work became ready meanwhile; default 20ms. Other
	// topics use longer windows. Waiters in the same process are woken at
	// once regardless.
	NotifyWindow time.Duration
	Logger       *slog.Logger
}

// Store is the PostgreSQL store.
type Store struct {
	*sqlstore.DB
	stopListen context.CancelFunc
	listenDone chan struct{}
	notifier   *notifier
}

var _ store.Store = (*Store)(nil)

// ChannelOf is the NOTIFY channel of the sluice whose tables are in
// schema: "sluice" in public, and one per schema elsewhere, so sluices
// in several schemas of a database do not wake each other. (A channel
// name is at most 63 bytes; a schema name may be as long itself.)
func ChannelOf(schema string) string {
	if schema == "public" {
		return "sluice"
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("sluice_%016x", h.Sum64())
}

// Open connects to the database at url (a postgres:// URL or DSN), applies
// pending migrations (one process at a time, under a lock with a lease), and
// starts listening for other processes' notifications.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	if o.NotifyWindow <= 0 {
		o.NotifyWindow = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, sluice.Errorf(sluice.EINVALID, "postgres: bad connection URL: %v", err)
	}
	if o.NoListen && !strings.Contains(url, "default_query_exec_mode") {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &sluice.Error{Code: sluice.EUNAVAIL, Message: fmt.Sprintf("postgres: cannot connect to %s: %v", redact(cfg), err)}
	}
	// Migrating takes three connections at once: goose's, the lock's
	// queries and its heartbeat. A smaller pool would wait on itself for
	// good, so it grows for the migration and shrinks back after.
	db.SetMaxOpenConns(max(o.MaxConns, 3))
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, db, schema, o.Logger); err != nil {
		db.Close()
		return nil, err
	}
	db.SetMaxOpenConns(o.MaxConns)
	clock := o.Clock
	var skew *skewClock
	if clock == nil {
		skew = &skewClock{}
		if err := skew.measure(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
		clock = skew
	}
	claim, err := openClaimPool(ctx, cfg, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{}
	channel := ChannelOf(schema)
	s.notifier = newNotifier(db, channel, o.NotifyWindow, o.Logger)
	s.DB = sqlstore.New(sqlstore.Options{
		Dialect: sqlstore.Dialect{
			Name:        "postgres",
			Migrations:  mustSub(migrations, "migrations"),
			Numbered:    true,
			SkipLocked:  " FOR UPDATE SKIP LOCKED",
			ForUpdate:   " FOR UPDATE",
			ForShare:    " FOR SHARE",
			ForPipeline: " FOR NO KEY UPDATE",
			Retryable:   retryable,
			AfterCommit: s.notifier.notify,
			WritableCTE: true,
			Lateral:     true,
			RandomToken: "(floor(random() * 9223372036854775806))::bigint + 1",
			JSONAgg:     "json_agg",
			JSONArray:   "json_build_array",
		},
		Write:   db,
		Read:    db,
		Claim:   claim,
		Clock:   clock,
		OnClose: s.stop,
	})
	lctx, cancel := context.WithCancel(context.Background())
	s.stopListen = cancel
	s.listenDone = make(chan struct{})
	go func() {
		defer close(s.listenDone)
		if skew != nil {
			go skew.keepMeasuring(lctx, db)
		}
		if !o.NoListen {
			listen(lctx, cfg, channel, s.DB.Signals(), o.Logger)
		} else {
			<-lctx.Done()
		}
	}()
	return s, nil
}

func (s *Store) stop() error {
	s.stopListen()
	<-s.listenDone
	s.notifier.close()
	return nil
}

func migrate(ctx context.Context, db *sql.DB, schema string, logger *slog.Logger) error {
	// One lock per schema: processes starting together migrate one after
	// the other, and the others find nothing left to do. The lock is a row
	// with a lease (goose's table locker), not a session advisory lock: a
	// transaction-pooling proxy may run the lock and the unlock on
	// different server connections, leaving a session lock held for good;
	// a row lock is released whatever connection it was taken on, and by
	// its lease if the process dies while migrating.
	h := fnv.New64a()
	h.Write([]byte("sluice:" + schema))
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableName("sluice_migration_lock"),
		lock.WithTableLockID(int64(h.Sum64()>>1)|1),
		// A process killed while it holds the lock delays the next start
		// by the lease at most; the holder's heartbeat keeps a long
		// migration's lease alive. The lease is long enough that a holder
		// paused for a while (a stopped container, a long GC) keeps it.
		lock.WithTableLeaseDuration(30*time.Second),
		lock.WithTableHeartbeatInterval(3*time.Second),
		lock.WithTableLockTimeout(200*time.Millisecond, 3000), // up to 10 minutes
		lock.WithTableUnlockTimeout(200*time.Millisecond, 300),
		lock.WithTableLogger(logger.With("during", "migration")),
	)
	if err != nil {
		return err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: apply migrations: %w", err)
	}
	return nil
}

// retryable reports errors after which a transaction may run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" // serialization failure, deadlock
	}
	return false
}

func redact(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// skewClock is this machine's clock corrected by its offset from the
// database server's clock, measured at open and every few minutes: lease
// expiry is compared across machines, so every process must agree on the
// time within the round trip of a query, whatever their own clocks say.
type skewClock struct {
	offset atomic.Int64 // nanoseconds to add to the local clock
}

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *skewClock) measure(ctx context.Context, db *sql.DB) error {
	best := time.Duration(1<<62 - 1)
	for i := 0; i < 3; i++ {
		before := time.Now()
		var dbMicros int64
		err := db.QueryRowContext(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`).Scan(&dbMicros)
		after := time.Now()
		if err != nil {
			return fmt.Errorf("postgres: read server clock: %w", err)
		}
		if rtt := after.Sub(before); rtt < best { // the fastest round trip is the most precise
			best = rtt
			mid := before.Add(rtt / 2)
			c.offset.Store(int64(time.UnixMicro(dbMicros).Sub(mid)))
		}
	}
	return nil
}

func (c *skewClock) keepMeasuring(ctx context.Context, db *sql.DB) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = c.measure(mctx, db) // keep the last offset during an outage
			cancel()
		}
	}
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// openClaimPool opens the connections that run the one-statement claim,
// with plan_cache_mode = force_generic_plan: PostgreSQL then plans the
// claim once per connection and limit instead of on every execution.
// Left to itself it keeps making custom plans, and planning the claim (four
// CTEs and the upstream outputs' subquery) was about a quarter of the
// database's CPU in a 10,000-task fan-out on four worker processes
// (perf); with generic plans the fan-out ran 7,900-8,900 tasks/s instead
// of 6,400-6,800 (bench/RESULTS.md). The claim is written so that its
// generic plan is the index plan: the limit is a literal, since a generic
// LIMIT $n is guessed at hundreds of rows, which makes the update of the
// picked rows scan every instance.
//
// Not through a transaction-pooling proxy (NoListen): a startup parameter
// does not follow a statement to the server connection the proxy picks,
// and PgBouncer refuses unknown ones. Nil there, and the claim uses the
// main pool.
func openClaimPool(ctx context.Context, cfg *pgx.ConnConfig, o Options) (*sql.DB, error) {
	if o.NoListen {
		return nil, nil
	}
	cc := cfg.Copy()
	cc.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	claim := stdlib.OpenDB(*cc)
	// A worker claims from one goroutine; the second connection covers a
	// server whose worker and another caller claim at once.
	claim.SetMaxOpenConns(2)
	claim.SetMaxIdleConns(2)
	claim.SetConnMaxIdleTime(5 * time.Minute)
	if err := claim.PingContext(ctx); err != nil {
		claim.Close()
		return nil, &sluice.Error{Code: sluice.EUNAVAIL, Message: fmt.Sprintf("postgres: cannot connect to %s: %v", redact(cfg), err)}
	}
	return claim, nil
}
