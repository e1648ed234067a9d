package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clock sluice.Clock) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.Schema(t), postgres.Options{Clock: clock, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestConformanceBehindPooler runs the suite again through PgBouncer in
// transaction mode with NoListen, as a deployment behind a pooler would:
// statements without named prepared statements, no session state.
func TestConformanceBehindPooler(t *testing.T) {
	t.Parallel()
	pooler, err := url.Parse(pgtest.TransactionPooler(t, pgtest.BaseURL()))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T, clock sluice.Clock) store.Store {
		u, err := url.Parse(pgtest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Host = pooler.Host
		s, err := postgres.Open(context.Background(), u.String(), postgres.Options{Clock: clock, MaxConns: 4, NoListen: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func openStore(t *testing.T, url string, o postgres.Options) *postgres.Store {
	t.Helper()
	if o.MaxConns == 0 {
		o.MaxConns = 4
	}
	s, err := postgres.Open(context.Background(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func savePipeline(t *testing.T, s store.Store) {
	t.Helper()
	_, err := s.PipelineSave(context.Background(), &store.PipelineSaveParams{
		ID: "p", Hash: "h", MaxActiveRuns: 100, Tasks: []store.VersionTask{{TaskID: "a"}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNotifyWakesOtherProcesses: a commit in one process wakes waiters in
// another through NOTIFY, long before any poll would.
func TestNotifyWakesOtherProcesses(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	a := openStore(t, url, postgres.Options{})
	b := openStore(t, url, postgres.Options{})
	savePipeline(t, a)
	waitHears(t, a, b)
}

// waitHears creates runs of pipeline p in from until a waiter in to wakes.
// The listener of a store connects in the background: the first runs may
// go unheard.
func waitHears(t *testing.T, from, to store.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		wake := to.Wait(store.TopicReady)
		if _, _, err := from.RunCreate(context.Background(), &store.RunCreateParams{PipelineID: "p", Key: fmt.Sprint("hear-", time.Now().UnixNano()), Kind: store.RunManual}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wake:
			return
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("a run created in one process never woke a waiter in another")
		}
	}
}

// quiet waits until s has heard nothing for 300ms: a notification of a
// run that waitHears created before one that was heard (its wait timed
// out under load) may still be on its way, and would pass for a wake-up.
func quiet(t *testing.T, s store.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.Wait(store.TopicReady):
			if time.Now().After(deadline) {
				t.Fatal("never quiet")
			}
		case <-time.After(300 * time.Millisecond):
			return
		}
	}
}

// TestSchemasDoNotWakeEachOther: sluices in two schemas of one database
// notify on channels of their own.
func TestSchemasDoNotWakeEachOther(t *testing.T) {
	t.Parallel()
	urlA, urlB := pgtest.Schema(t), pgtest.Schema(t)
	a1, a2 := openStore(t, urlA, postgres.Options{}), openStore(t, urlA, postgres.Options{})
	b1, b2 := openStore(t, urlB, postgres.Options{}), openStore(t, urlB, postgres.Options{})
	savePipeline(t, a1)
	savePipeline(t, b1)
	waitHears(t, b1, b2) // b2 listens
	waitHears(t, a1, a2) // a1 notifies, a2 listens
	quiet(t, b2)
	wake := b2.Wait(store.TopicReady)
	heard := a2.Wait(store.TopicReady)
	if _, _, err := a1.RunCreate(context.Background(), &store.RunCreateParams{PipelineID: "p", Key: "quiet", Kind: store.RunManual}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-heard:
	case <-time.After(10 * time.Second):
		t.Fatal("a run in schema A did not wake its own schema's other process")
	}
	select {
	case <-wake:
		t.Fatal("a run in schema A woke a process of schema B")
	case <-time.After(300 * time.Millisecond):
	}
	if postgres.ChannelOf("public") != "sluice" || len(postgres.ChannelOf(strings.Repeat("s", 63))) > 63 {
		t.Fatal("channel names: public keeps \"sluice\"; any schema's fits in 63 bytes")
	}
}

// TestNoListenHearsNothing: with NoListen a process only learns of other
// processes' work by polling.
func TestNoListenHearsNothing(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	a := openStore(t, url, postgres.Options{})
	b := openStore(t, url, postgres.Options{NoListen: true})
	savePipeline(t, a)
	wake := b.Wait(store.TopicReady)
	for i := 0; i < 5; i++ {
		if _, _, err := a.RunCreate(context.Background(), &store.RunCreateParams{PipelineID: "p", Key: fmt.Sprint("k", i), Kind: store.RunManual}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-wake:
		t.Fatal("a NoListen store was woken by another process")
	case <-time.After(300 * time.Millisecond):
	}
	// Its own commits still wake its own waiters.
	wake = b.Wait(store.TopicReady)
	if _, _, err := b.RunCreate(context.Background(), &store.RunCreateParams{PipelineID: "p", Key: "own", Kind: store.RunManual}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	default:
		t.Fatal("own commit did not wake own waiter")
	}
}

// TestConcurrentMigrations: processes starting together on an empty
// database all come up; the migrations ran once.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent open: %v", err)
	}
	db := pgtest.Require(t)
	var applied, distinct int
	schema := pgtest.SchemaOf(url)
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT version_id) FROM `+schema+`.goose_db_version WHERE version_id > 0`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Fatalf("%d migration rows for %d migrations: one ran twice", applied, distinct)
	}
}

// TestClockFollowsServer: without an injected clock the store tells the
// database server's time.
func TestClockFollowsServer(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	s := openStore(t, url, postgres.Options{})
	savePipeline(t, s)
	r, _, err := s.RunCreate(context.Background(), &store.RunCreateParams{PipelineID: "p", Key: "k", Kind: store.RunManual})
	if err != nil {
		t.Fatal(err)
	}
	var serverNow int64
	if err := pgtest.Require(t).QueryRow(`SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`).Scan(&serverNow); err != nil {
		t.Fatal(err)
	}
	if d := time.UnixMicro(serverNow).Sub(r.CreatedAt); d < 0 || d > 5*time.Second {
		t.Fatalf("run created at %v, server time %v", r.CreatedAt, time.UnixMicro(serverNow))
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/x?connect_timeout=1", postgres.Options{})
	if sluice.ErrorCode(err) != sluice.EUNAVAIL || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

// TestBigRunRefreshesStatistics: saving a version of 1,000+ edges and
// creating a run of 1,000+ instances refresh the planner's statistics of
// version_edges and task_instances, which would otherwise still describe
// the tables as they were (empty, here): claims planned as scans, and
// readiness reading every edge of the version for each finished task.
func TestBigRunRefreshesStatistics(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	s := openStore(t, url, postgres.Options{})
	ctx := context.Background()
	analyzed := func(table string) int {
		var n int
		err := pgtest.Require(t).QueryRow(`SELECT COALESCE(SUM(analyze_count + autoanalyze_count), 0) FROM pg_stat_user_tables
			WHERE schemaname = $1 AND relname = $2`, pgtest.SchemaOf(url), table).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The statistics collector reports with a short delay.
	waitAnalyzed := func(table string, before int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for analyzed(table) == before {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not analyze %s", what, table)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A fan-out: 1,199 tasks after one, 1,199 edges.
	tasks := make([]store.VersionTask, 1200)
	for i := range tasks {
		tasks[i] = store.VersionTask{TaskID: fmt.Sprintf("t%04d", i)}
		if i > 0 {
			tasks[i].Upstream = []string{"t0000"}
		}
	}
	edges := analyzed("version_edges")
	saved, err := s.PipelineSave(ctx, &store.PipelineSaveParams{ID: "wide", Hash: "h", MaxActiveRuns: 1, Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	waitAnalyzed("version_edges", edges, "saving a version of 1,199 edges")
	instances := analyzed("task_instances")
	if _, _, err := s.RunCreate(ctx, &store.RunCreateParams{PipelineID: "wide", VersionID: saved.VersionID, Key: "r1", Kind: store.RunManual, LogicalDate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitAnalyzed("task_instances", instances, "creating a run of 1,200 instances")
}

// TestRetentionVacuum: with autovacuum off, the retention job's vacuum
// reclaims dead rows of the busy tables itself; with it on, it leaves that
// to PostgreSQL.
func TestRetentionVacuum(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	s := openStore(t, url, postgres.Options{})
	db := pgtest.Require(t)
	var autovacuum string
	if err := db.QueryRow(`SELECT current_setting('autovacuum')`).Scan(&autovacuum); err != nil {
		t.Fatal(err)
	}
	vacuums := func() int {
		var n int
		if err := db.QueryRow(`SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'task_instances'`,
			pgtest.SchemaOf(url)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := vacuums()
	did, err := s.RetentionVacuum(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if autovacuum == "on" {
		if did != "" {
			t.Fatalf("autovacuum is on, yet the job vacuumed: %q", did)
		}
		return
	}
	if !strings.Contains(did, "autovacuum is off") {
		t.Fatalf("autovacuum is off and the job says %q", did)
	}
	deadline := time.Now().Add(10 * time.Second)
	for vacuums() == before {
		if time.Now().After(deadline) {
			t.Fatal("task_instances was not vacuumed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPipelineLockLetsKeyShareBe: a transaction that holds a key share
// lock on a pipeline's row (any transaction that inserted a row
// referencing it, such as a trigger event or a run, or updated one of its
// runs twice) does not hold up the lock that orders the pipeline's runs.
// When that lock was FOR UPDATE, two such transactions each waited for the
// other's key share: a deadlock PostgreSQL breaks only after
// deadlock_timeout, one second per webhook delivery or finished run.
func TestPipelineLockLetsKeyShareBe(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	s := openStore(t, url, postgres.Options{})
	savePipeline(t, s)
	ctx := context.Background()
	other, err := s.Write().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `SELECT 1 FROM pipelines WHERE id = 'p' FOR KEY SHARE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.RunCreate(ctx, &store.RunCreateParams{PipelineID: "p", Key: "while-key-shared", Kind: store.RunWebhook,
			Event: &store.TriggerEvent{Source: "webhook", Key: "d-1"}})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunCreate waited on a key share lock of the pipeline's row: the pipeline lock must be FOR NO KEY UPDATE")
	}
}

// TestDeleteWhileClaiming: attempts have no foreign key to their instances
// on PostgreSQL (migration 00020), so a pipeline's deletion deletes them
// itself. Claims racing with it must not leave an attempt behind whose
// instance is gone.
func TestDeleteWhileClaiming(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, pgtest.Schema(t), postgres.Options{MaxConns: 8})
	for round := range 5 {
		tasks := make([]store.VersionTask, 200)
		for i := range tasks {
			tasks[i] = store.VersionTask{TaskID: fmt.Sprintf("t%03d", i)}
		}
		if _, err := s.PipelineSave(ctx, &store.PipelineSaveParams{ID: "p", Hash: fmt.Sprint("h", round), MaxActiveRuns: 10, Tasks: tasks}); err != nil {
			t.Fatal(err)
		}
		for r := range 3 {
			if _, _, err := s.RunCreate(ctx, &store.RunCreateParams{PipelineID: "p", Key: fmt.Sprint(round, "-", r), Kind: store.RunManual}); err != nil {
				t.Fatal(err)
			}
		}
		var (
			wg      sync.WaitGroup
			claimed = make(chan int, 3)
			stop    = make(chan struct{})
			first   = make(chan struct{}) // closed at the first claim
			once    sync.Once
		)
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				defer func() { claimed <- n }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					cs, err := s.InstanceClaim(ctx, &store.InstanceClaimParams{Worker: fmt.Sprint("w", w), Limit: 3, LeaseDuration: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					n += len(cs)
					if n > 0 {
						once.Do(func() { close(first) })
					}
				}
			}()
		}
		// Claims under way: the deletion starts once one has committed,
		// while the others keep claiming.
		select {
		case <-first:
		case <-time.After(time.Minute): // a hang, not a measure
			t.Fatal("no claim in a minute")
		}
		if err := s.PipelineDelete(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		total := 0
		for range 3 {
			total += <-claimed
		}
		if total == 0 {
			t.Fatal("nothing was claimed before the deletion: the test raced nothing")
		}
		var orphans int
		if err := s.Write().QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts a
			WHERE NOT EXISTS (SELECT 1 FROM task_instances ti WHERE ti.id = a.instance_id)`).Scan(&orphans); err != nil {
			t.Fatal(err)
		}
		if orphans != 0 {
			t.Fatalf("round %d: %d attempts left whose instance was deleted (%d claimed)", round, orphans, total)
		}
	}
}
