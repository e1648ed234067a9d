package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/store/sqlstore"
)

// TestHeldConnectionTransactions checks the write transactions SQLite runs
// as statements on a held connection (Dialect.Begin): a failed one leaves
// nothing, one that cannot roll back lets its connection go and the next
// runs on a new one, and concurrent ones take turns.
func TestHeldConnectionTransactions(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.DB
	count := func() int {
		t.Helper()
		var n int
		if err := db.Write().QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM held_test`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := sqlstore.InTx(ctx, db, func(exec func(string, ...any) error) error {
		return exec(`CREATE TABLE held_test (n INTEGER NOT NULL)`)
	}); err != nil {
		t.Fatal(err)
	}
	add := func(exec func(string, ...any) error) error { return exec(`INSERT INTO held_test (n) VALUES (?)`, 1) }

	// A transaction that fails after writing leaves nothing.
	failed := errors.New("failed on purpose")
	if err := sqlstore.InTx(ctx, db, func(exec func(string, ...any) error) error {
		if err := add(exec); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("err = %v, want the transaction's own", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("a failed transaction left %d rows", n)
	}

	// One that ended itself cannot roll back: its connection goes, and
	// the next transaction runs whole on a new one, with the statement
	// prepared again.
	if err := sqlstore.InTx(ctx, db, func(exec func(string, ...any) error) error {
		if err := add(exec); err != nil {
			return err
		}
		if err := exec(`COMMIT`); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("err = %v, want the transaction's own", err)
	}
	if err := sqlstore.InTx(ctx, db, func(exec func(string, ...any) error) error {
		if err := add(exec); err != nil {
			return err
		}
		return add(exec)
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d rows, want 3 (1 committed by hand, 2 after)", n)
	}

	// Concurrent transactions take turns: each reads and writes back.
	if err := sqlstore.InTx(ctx, db, func(exec func(string, ...any) error) error {
		return exec(`CREATE TABLE held_counter (v INTEGER NOT NULL); INSERT INTO held_counter VALUES (0)`)
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if err := sqlstore.InTx(ctx, db, func(exec func(string, ...any) error) error {
					return exec(`UPDATE held_counter SET v = (SELECT v FROM held_counter) + 1`)
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var v int
	if err := db.Write().QueryRowContext(ctx, `SELECT v FROM held_counter`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != 200 {
		t.Fatalf("counter = %d after 200 increments", v)
	}

	// Waiting for one's turn ends with the context, as waiting for a
	// connection of a pool does: a worker that stops must not wait for a
	// transaction that waits for it.
	holding, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = db.OnWriteConn(ctx, func(*sql.Conn) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = sqlstore.InTx(short, db, func(exec func(string, ...any) error) error { return add(exec) })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a transaction waiting for its turn past its context: err = %v", err)
	}
}
