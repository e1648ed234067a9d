package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Dialect holds what differs between SQL databases.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Placeholders is true for numbered placeholders ($1, $2, …); queries
	// are written with ? and rewritten.
	Numbered bool
	// SkipLocked is appended to the SELECT that picks rows to claim: " FOR
	// UPDATE SKIP LOCKED" on PostgreSQL, empty on SQLite where the single
	// writer makes it unnecessary.
	SkipLocked string
	// ForUpdate and ForShare are appended to SELECTs that read a row they
	// will update, or that must not change until commit.
	ForUpdate string
	ForShare  string
	// ForPipeline is appended to the SELECT that locks a pipeline's row to
	// take turns with other transactions on its runs (" FOR NO KEY
	// UPDATE" on PostgreSQL). Such a transaction may already hold a key
	// share lock on the row: inserting a row that references the pipeline
	// takes one, and so does updating a row of runs twice in a
	// transaction. Two such transactions asking FOR UPDATE would each wait
	// for the other's share lock, a deadlock PostgreSQL breaks only after
	// deadlock_timeout (1s); FOR NO KEY UPDATE does not conflict with key
	// share locks and still excludes the other lockers.
	ForPipeline string
	// Retryable reports errors after which the whole transaction may be
	// retried (deadlock, serialization failure, busy).
	Retryable func(error) bool
	// WritableCTE says the database runs INSERT/UPDATE inside WITH, so a
	// claim can be one statement; RandomToken is then the SQL expression of
	// a random positive 63-bit fencing token.
	WritableCTE bool
	RandomToken string
	// Lateral says the database joins LATERAL subqueries: readiness
	// propagation then looks up each finished task's edges and downstream
	// instances through their keys, whatever the planner's estimates.
	Lateral bool
	// JSONAgg and JSONArray name the functions that gather rows into a
	// JSON list and values into a JSON array: json_group_array and
	// json_array on SQLite (the default), json_agg and json_build_array on
	// PostgreSQL.
	JSONAgg, JSONArray string
	// PrepareCache prepares each statement once on the write pool and
	// reuses it; for drivers that do not cache prepared statements.
	PrepareCache bool
	// Begin, when set, is the statement that opens a write transaction
	// (SQLite: BEGIN IMMEDIATE). Write transactions then run one at a
	// time on one connection of the write pool, held from the first to
	// Close, with BEGIN, COMMIT and ROLLBACK as statements; with
	// PrepareCache each statement is prepared once on that connection.
	//
	// Our own rather than database/sql's Tx, which starts a goroutine per
	// transaction to watch its context and readies it again at commit:
	// on a 2-core machine, with a fork/exec between transactions as in a
	// chain of shell tasks, a transaction of eight updates took 173 µs
	// through a Tx and 109 µs as statements on a held connection (medians
	// of 15 rounds of 200), 30 and 28 µs without the fork/exec.
	Begin string
	// AfterCommit, when set, is called after a transaction committed with
	// the topics it changed, so other processes hear of the commit.
	AfterCommit func(topics []store.Topic)
	// Migrations are the embedded migration files (goose's NNNNN_name.sql),
	// to tell whether the database's schema is current.
	Migrations fs.FS
}

// Options configure a DB.
type Options struct {
	Dialect Dialect
	// Write runs transactions; Read serves reads and may be the same pool.
	Write *sql.DB
	Read  *sql.DB
	// Clock tells the time of every row written; default sluice.SystemClock.
	Clock sluice.Clock
	// Signals wakes waiters in this process after a commit; default new.
	Signals *store.Signals
	// Claim, if set, runs the one-statement claim (WritableCTE dialects)
	// instead of Write; the DB closes it. PostgreSQL gives it connections
	// that use generic plans: see postgres.Open.
	Claim *sql.DB
	// OnClose runs when the DB is closed, after the pools are closed.
	OnClose func() error
}

// DB implements store.Store over database/sql.
type DB struct {
	d       Dialect
	w, r    *sql.DB
	claim   *sql.DB // the one-statement claim's pool: w unless Options.Claim
	clock   sluice.Clock
	signals *store.Signals
	onClose func() error

	obs atomic.Pointer[store.Observer]

	rebindMu sync.RWMutex
	rebinds  map[string]string

	// pin is the connection write transactions run on when the dialect
	// has Begin; whoever holds the one token of turn may use it. A
	// channel, not a mutex: waiting for one's turn ends with the
	// context, as waiting for a connection of a pool does.
	turn chan struct{}
	pin  *sql.Conn

	stmtMu sync.Mutex
	// stmts are the statements prepared once (PrepareCache): on pin when
	// the dialect has Begin, else on the write pool.
	stmts     map[string]*sql.Stmt
	toPrepare map[string]bool
	// readStmts are reads of a fixed shape prepared once on the read
	// pool (see readPrepared).
	readStmts map[string]*sql.Stmt

	analyzeMu   sync.Mutex
	lastAnalyze map[string]time.Time
}

var _ store.Store = (*DB)(nil)

// New returns a DB over already-migrated pools.
func New(o Options) *DB {
	if o.Clock == nil {
		o.Clock = sluice.SystemClock
	}
	if o.Signals == nil {
		o.Signals = store.NewSignals()
	}
	if o.Read == nil {
		o.Read = o.Write
	}
	if o.Dialect.Retryable == nil {
		o.Dialect.Retryable = func(error) bool { return false }
	}
	if o.Dialect.JSONAgg == "" {
		o.Dialect.JSONAgg, o.Dialect.JSONArray = "json_group_array", "json_array"
	}
	claim := o.Claim
	if claim == nil {
		claim = o.Write
	}
	db := &DB{d: o.Dialect, w: o.Write, r: o.Read, claim: claim, clock: o.Clock, signals: o.Signals, onClose: o.OnClose, rebinds: map[string]string{}, stmts: map[string]*sql.Stmt{}, toPrepare: map[string]bool{}}
	if o.Dialect.Begin != "" {
		db.turn = make(chan struct{}, 1)
	}
	return db
}

// Signals returns the in-process broadcaster, so a driver can forward
// notifications it hears from other processes.
func (db *DB) Signals() *store.Signals { return db.signals }

// Write returns the pool that runs transactions. With Dialect.Begin they
// run on one connection of it (see OnWriteConn).
func (db *DB) Write() *sql.DB { return db.w }

// OnWriteConn runs fn, between write transactions, on the connection they
// run on, for what is set per connection (SQLite's pragmas). Without
// Dialect.Begin, transactions have no connection of their own and fn gets
// one of the write pool.
func (db *DB) OnWriteConn(ctx context.Context, fn func(*sql.Conn) error) error {
	if db.d.Begin == "" {
		c, err := db.w.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		return fn(c)
	}
	if err := db.takeTurn(ctx); err != nil {
		return err
	}
	defer db.endTurn()
	if err := db.hold(ctx); err != nil {
		return err
	}
	return fn(db.pin)
}

// takeTurn waits for the turn to use the held connection, or for ctx to
// end.
func (db *DB) takeTurn(ctx context.Context) error {
	select {
	case db.turn <- struct{}{}:
		return nil
	default:
	}
	select {
	case db.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (db *DB) endTurn() { <-db.turn }

// hold takes the connection write transactions run on from the pool, if
// none is held. The caller has the turn.
func (db *DB) hold(ctx context.Context) error {
	if db.pin != nil {
		return nil
	}
	c, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	db.pin = c
	return nil
}

// Wait implements store.Store.
func (db *DB) Wait(topic store.Topic) <-chan struct{} { return db.signals.Wait(topic) }

// Close implements store.Store.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.readStmts {
		st.Close()
	}
	db.stmtMu.Unlock()
	var err error
	if db.turn != nil {
		_ = db.takeTurn(context.Background())
		if db.pin != nil {
			err = db.pin.Close()
			db.pin = nil
		}
		db.endTurn()
	}
	err = errors.Join(err, db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if db.claim != db.w {
		err = errors.Join(err, db.claim.Close())
	}
	if db.onClose != nil {
		err = errors.Join(err, db.onClose())
	}
	return err
}

func (db *DB) now() time.Time { return db.clock.Now() }

// q rewrites a query written with ? placeholders for the dialect.
func (db *DB) q(query string) string {
	if !db.d.Numbered {
		return query
	}
	db.rebindMu.RLock()
	s, ok := db.rebinds[query]
	db.rebindMu.RUnlock()
	if ok {
		return s
	}
	s = rebind(query)
	db.rebindMu.Lock()
	if len(db.rebinds) < 4096 { // dynamic IN lists must not grow it forever
		db.rebinds[query] = s
	}
	db.rebindMu.Unlock()
	return s
}

func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// txn is one transaction with the topics it will notify on commit.
type txn struct {
	db *DB
	// q runs its statements: the *sql.Tx, or the held connection when
	// the dialect has Begin (conn is then set too).
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	tx     *sql.Tx
	conn   *sql.Conn
	ctx    context.Context
	now    time.Time
	topics [store.NumTopics]bool
	// runs are the runs the transaction started or finished, told to the
	// observer once it committed.
	runs []store.RunEvent
	// grown counts the rows the transaction inserted into the tables
	// whose size the planner must know (see analyze).
	grown map[string]int64
	// readied are the instances the transaction queued (ready); readyOther
	// says it made instances claimable otherwise too (a retry, a free
	// pool slot, …). AttemptCompleteClaim signals no TopicReady when it
	// claimed every instance readied and nothing else changed.
	readied    []int64
	readyOther bool
}

// grew records that the transaction inserted n rows into table, one of
// the tables analyze knows.
func (t *txn) grew(table string, n int64) {
	switch table {
	case "task_instances", "version_edges":
	default:
		panic("sqlstore: grew of a table analyze does not know: " + table)
	}
	if t.grown == nil {
		t.grown = map[string]int64{}
	}
	t.grown[table] += n
}

func (t *txn) notify(topic store.Topic) {
	t.topics[topic] = true
	if topic == store.TopicReady {
		t.readyOther = true
	}
}

// ready records that the transaction queued the instances ids.
func (t *txn) ready(ids []int64) {
	if len(ids) == 0 {
		return
	}
	t.topics[store.TopicReady] = true
	t.topics[store.TopicInstances] = true
	t.readied = append(t.readied, ids...)
}

// runEvent records that a run started (state running) or finished.
func (t *txn) runEvent(pipelineID, kind string, state sluice.RunState) {
	t.runs = append(t.runs, store.RunEvent{PipelineID: pipelineID, Kind: store.RunKind(kind), State: state})
}

func (t *txn) exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.q.ExecContext(t.ctx, t.db.q(query), args...)
}

func (t *txn) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.q.QueryContext(t.ctx, t.db.q(query), args...)
}

func (t *txn) queryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.q.QueryRowContext(t.ctx, t.db.q(query), args...)
}

// stmt returns the query prepared for this transaction, from statements
// prepared once on the write pool or the held connection, or nil when
// there is none yet or the dialect prepares its own (pgx caches
// statements per connection itself).
func (t *txn) stmt(query string) *sql.Stmt {
	if !t.db.d.PrepareCache {
		return nil
	}
	if t.conn != nil {
		return t.connStmt(query)
	}
	t.db.stmtMu.Lock()
	st, ok := t.db.stmts[query]
	if !ok && len(t.db.stmts)+len(t.db.toPrepare) < maxPrepared {
		// The transaction holds the only writer connection, so the
		// statement is prepared after it ends; this once it runs as is.
		t.db.toPrepare[query] = true
	}
	t.db.stmtMu.Unlock()
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(t.ctx, st)
}

// connStmt returns query prepared on the held connection, preparing it
// the first time, or nil past maxPrepared statements or when it cannot
// be prepared (running it unprepared then reports why).
func (t *txn) connStmt(query string) *sql.Stmt {
	t.db.stmtMu.Lock()
	defer t.db.stmtMu.Unlock()
	st, ok := t.db.stmts[query]
	if ok || len(t.db.stmts) >= maxPrepared {
		return st
	}
	st, err := t.conn.PrepareContext(t.ctx, t.db.q(query))
	if err != nil {
		return nil
	}
	t.db.stmts[query] = st
	return st
}

// maxPrepared bounds the cache of prepared statements; queries built with
// a variable number of values beyond it are prepared every time.
const maxPrepared = 256

// prepareNew prepares the statements transactions asked for, outside any
// transaction.
func (db *DB) prepareNew(ctx context.Context) {
	db.stmtMu.Lock()
	if len(db.toPrepare) == 0 {
		db.stmtMu.Unlock()
		return
	}
	var queries []string
	for query := range db.toPrepare {
		queries = append(queries, query)
	}
	clear(db.toPrepare)
	db.stmtMu.Unlock()
	// Not under stmtMu: preparing waits for the writer connection, which a
	// transaction asking for statements may hold.
	for _, query := range queries {
		st, err := db.w.PrepareContext(ctx, db.q(query))
		if err != nil {
			continue
		}
		db.stmtMu.Lock()
		if _, dup := db.stmts[query]; dup {
			st.Close()
		} else {
			db.stmts[query] = st
		}
		db.stmtMu.Unlock()
	}
}

// inTx runs fn in a write transaction, retrying it as a whole after a
// retryable error, and notifies the topics fn marked once it committed.
// op names the operation for the observer (the store method).
func (db *DB) inTx(ctx context.Context, op string, fn func(t *txn) error) error {
	start := time.Now()
	for try := 0; ; try++ {
		t := &txn{db: db, ctx: ctx, now: db.now()}
		err := db.runTx(t, fn)
		if db.d.PrepareCache && db.d.Begin == "" {
			db.prepareNew(ctx)
		}
		if err == nil {
			var topics []store.Topic
			for topic, on := range t.topics {
				if on {
					topics = append(topics, store.Topic(topic))
				}
			}
			db.committed(topics)
			for table, n := range t.grown {
				if n >= analyzeAfter {
					db.analyze(ctx, table)
				}
			}
			if o := db.observer(); o != nil {
				o.DBCall(op, time.Since(start), nil)
				for _, e := range t.runs {
					o.RunChanged(e)
				}
			}
			return nil
		}
		if try < 8 && db.d.Retryable(err) && ctx.Err() == nil {
			time.Sleep(time.Duration(1<<try) * time.Millisecond)
			continue
		}
		db.observe(op, start, err)
		return err
	}
}

// SetObserver makes o hear of every transaction and every run that starts
// or finishes, after commit; nil stops it.
func (db *DB) SetObserver(o store.Observer) {
	if o == nil {
		db.obs.Store(nil)
		return
	}
	db.obs.Store(&o)
}

func (db *DB) observer() store.Observer {
	if o := db.obs.Load(); o != nil {
		return *o
	}
	return nil
}

// observe tells the observer of a database call that began at start.
func (db *DB) observe(op string, start time.Time, err error) {
	if o := db.observer(); o != nil {
		o.DBCall(op, time.Since(start), err)
	}
}

// committed wakes this process's waiters of topics, and others' through
// the dialect.
func (db *DB) committed(topics []store.Topic) {
	if len(topics) == 0 {
		return
	}
	for _, t := range topics {
		db.signals.Notify(t)
	}
	if db.d.AfterCommit != nil {
		db.d.AfterCommit(topics)
	}
}

func (db *DB) runTx(t *txn, fn func(t *txn) error) error {
	if db.d.Begin != "" {
		return db.runHeld(t, fn)
	}
	tx, err := db.w.BeginTx(t.ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	t.tx, t.q = tx, tx
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return err
	}
	return dbErr(tx.Commit())
}

// runHeld runs fn in a transaction on the held connection (Dialect.Begin).
func (db *DB) runHeld(t *txn, fn func(t *txn) error) error {
	if err := db.takeTurn(t.ctx); err != nil {
		return dbErr(err)
	}
	defer db.endTurn()
	if err := db.hold(t.ctx); err != nil {
		return dbErr(err)
	}
	t.conn, t.q = db.pin, db.pin
	if err := t.control(t.ctx, db.d.Begin); err != nil {
		if !db.d.Retryable(err) {
			db.unpin()
		}
		return dbErr(err)
	}
	if err := fn(t); err != nil {
		db.rollback(t)
		return err
	}
	if err := t.control(t.ctx, "COMMIT"); err != nil {
		db.rollback(t)
		return dbErr(err)
	}
	return nil
}

// control runs BEGIN, COMMIT or ROLLBACK on the held connection, prepared
// once like the transactions' statements: preparing them every time cost
// 4-8 µs a transaction (a loop of transactions of eight updates: 41.0 →
// 37.3 µs, and 63.1 → 55.3 µs with a fork/exec before each; medians of 15
// rounds of 200).
func (t *txn) control(ctx context.Context, query string) error {
	var err error
	if st := t.connStmt(query); st != nil {
		_, err = st.ExecContext(ctx)
	} else {
		_, err = t.conn.ExecContext(ctx, query)
	}
	return err
}

// rollback ends the failed transaction of t. A connection that cannot
// roll back (SQLite may have rolled back already after an I/O error) is
// let go: no later transaction may run inside what is left of this one.
func (db *DB) rollback(t *txn) {
	if err := t.control(context.WithoutCancel(t.ctx), "ROLLBACK"); err != nil {
		db.unpin()
	}
}

// unpin closes the held connection, discarding it rather than returning
// it to the pool, and the statements prepared on it; the next
// transaction holds a new one. The caller has the turn.
func (db *DB) unpin() {
	db.stmtMu.Lock()
	for query, st := range db.stmts {
		st.Close()
		delete(db.stmts, query)
	}
	db.stmtMu.Unlock()
	_ = db.pin.Raw(func(any) error { return driver.ErrBadConn })
	_ = db.pin.Close()
	db.pin = nil
}

// dbErr leaves domain errors alone and marks database failures unavailable
// when the connection itself failed.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var e *sluice.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("store: %w", err)
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// us converts a time to stored microseconds.
func us(t time.Time) int64 { return t.UnixMicro() }

// usPtr converts an optional time; nil stays NULL.
func usPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromUS converts stored microseconds to a UTC time.
func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

// fromNullUS converts a nullable stored time.
func fromNullUS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

func int64Args(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return dbErr(err)
	}
	var one int
	return dbErr(db.readRow(ctx, "SELECT 1").Scan(&one))
}

// ProbeWrite implements store.WriteProber: a write transaction whose
// UPDATE matches no row, so the database must accept a write (PostgreSQL
// refuses it in a read-only transaction, SQLite on a read-only file) but
// nothing changes.
func (db *DB) ProbeWrite(ctx context.Context) error {
	return dbErr(db.inTx(ctx, "ProbeWrite", func(t *txn) error {
		_, err := t.exec(`UPDATE pipelines SET id = id WHERE 1 = 0`)
		return err
	}))
}

// Clock returns the store's clock.
func (db *DB) Clock() sluice.Clock { return db.clock }

// read runs a query on the read pool, measured as a "read" call.
func (db *DB) read(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	start := time.Now()
	rows, err := db.r.QueryContext(ctx, query, args...)
	db.observe("read", start, err)
	return rows, err
}

// readRow runs a query for one row on the read pool, measured as a "read"
// call.
func (db *DB) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	start := time.Now()
	row := db.r.QueryRowContext(ctx, query, args...)
	db.observe("read", start, row.Err())
	return row
}

// SchemaCheck implements store.SchemaChecker: the database must have every
// migration this binary has. A newer schema is fine: migrations only add,
// so processes of the previous release keep working during a rolling
// upgrade.
func (db *DB) SchemaCheck(ctx context.Context) error {
	want, err := LatestMigration(db.d.Migrations)
	if err != nil || want == 0 {
		return err
	}
	var have sql.NullInt64
	if err := db.readRow(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&have); err != nil {
		return dbErr(err)
	}
	if have.Int64 < want {
		return sluice.Errorf(sluice.EUNAVAIL, "the database schema is at migration %d and this sluice needs %d: a process is migrating it, or none of this version has started yet", have.Int64, want)
	}
	return nil
}

// LatestMigration returns the number of the newest migration file in
// fsys, 0 when there is none.
func LatestMigration(fsys fs.FS) (int64, error) {
	if fsys == nil {
		return 0, nil
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, n := range names {
		num, _, ok := strings.Cut(n, "_")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			continue
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// analyzeAfter is how many rows one transaction must insert into a table
// for the planner's statistics of that table to be refreshed after it.
const analyzeAfter = 1000

// analyze refreshes PostgreSQL's statistics of a table after a transaction
// inserted many rows into it, at most once a minute per table and process.
// Without it the planner goes on believing the table as small as when it
// was last analyzed (autoanalyze comes a minute later at best, never when
// autovacuum is off) and picks plans that only suit a small table:
//   - task_instances: the claim and the readiness updates planned as
//     scans; a 10,000-task fan-out on a fresh database ran at half speed;
//   - version_edges: readiness propagation looked edges up by version
//     alone and filtered the upstream task, reading all 10,000 edges of a
//     fan-out for every finished task (4 worker processes: 1,700 → see
//     bench/RESULTS.md).
//
// ANALYZE samples at most 30,000 rows, whatever the table's size.
func (db *DB) analyze(ctx context.Context, table string) {
	if db.d.Name != "postgres" {
		return
	}
	db.analyzeMu.Lock()
	now := time.Now()
	if now.Sub(db.lastAnalyze[table]) < time.Minute {
		db.analyzeMu.Unlock()
		return
	}
	if db.lastAnalyze == nil {
		db.lastAnalyze = map[string]time.Time{}
	}
	db.lastAnalyze[table] = now
	db.analyzeMu.Unlock()
	// A hint to the planner: losing it costs only speed, so it waits at
	// most a few seconds for the table's lock (held by a VACUUM FULL or a
	// migration; an autovacuum gives way to it). Not SKIP_LOCKED, which
	// would also give way to an autovacuum and leave the statistics
	// stale. A failed ANALYZE is tried again after the next big insert.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := func() error {
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `ANALYZE `+table); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		db.analyzeMu.Lock()
		delete(db.lastAnalyze, table)
		db.analyzeMu.Unlock()
	}
}
