package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
)

// TestNotifyDebounced: a burst of commits that make work ready sends one
// notification at once and one at the end of the window, not one each.
func TestNotifyDebounced(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	channel := "sluice_test_" + hex.EncodeToString(b[:]) // NOTIFY is server-wide: a channel of its own

	conn, err := pgx.Connect(ctx, pgtest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		heard []string
	)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(lctx)
			if err != nil {
				return
			}
			mu.Lock()
			heard = append(heard, n.Payload)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(heard) }

	db, err := sql.Open("pgx", pgtest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := newNotifier(db, channel, time.Second, slog.Default())
	for range 500 {
		n.notify([]store.Topic{store.TopicReady})
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Time for a third to arrive, if the debounce were broken.
	time.Sleep(500 * time.Millisecond)
	n.close()
	stop()
	<-done
	if got := count(); got != 2 {
		t.Fatalf("500 commits in one window sent %d notifications (%v), want 2: one at once, one at its end", got, heard)
	}
}
