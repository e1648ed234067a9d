package postgres

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/sluice-dev/sluice/store"
)

// notifier sends NOTIFY after commits, debounced per topic: the first
// change in a window is announced at once, further ones in the same window
// by one more notification at its end. So a burst of thousands of commits
// costs a few notifications, and the last change is always announced.
// Notifications are hints; a lost one delays a waiter until its next poll.
type notifier struct {
	db      *sql.DB
	channel string
	window  time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	last    [store.NumTopics]time.Time
	pending [store.NumTopics]bool
	closed  bool
	wg      sync.WaitGroup
}

func newNotifier(db *sql.DB, channel string, window time.Duration, log *slog.Logger) *notifier {
	return &notifier{db: db, channel: channel, window: window, log: log}
}

// windowOf is the debounce window of a topic: ready work wakes workers,
// whose latency matters most; the others wake schedulers and pages, which
// can wait a little longer and cost the server less.
func (n *notifier) windowOf(t store.Topic) time.Duration {
	switch t {
	case store.TopicReady:
		return n.window
	case store.TopicInstances:
		return 20 * n.window
	default:
		return 4 * n.window
	}
}

// notify is called after a commit with the topics it changed.
func (n *notifier) notify(topics []store.Topic) {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	for _, t := range topics {
		window := n.windowOf(t)
		switch {
		case n.pending[t]:
			// a trailing notification is already due
		case now.Sub(n.last[t]) >= window:
			n.last[t] = now
			n.send(t)
		default:
			n.pending[t] = true
			t := t
			time.AfterFunc(window-now.Sub(n.last[t]), func() {
				n.mu.Lock()
				defer n.mu.Unlock()
				n.pending[t] = false
				if n.closed {
					return
				}
				n.last[t] = time.Now()
				n.send(t)
			})
		}
	}
}

// send notifies in the background; n.mu is held.
func (n *notifier) send(t store.Topic) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = n.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, n.channel, strconv.Itoa(int(t)))
	}()
}

func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.wg.Wait()
}

// listen holds one connection that LISTENs for other processes'
// notifications and turns them into local wake-ups, until ctx ends. It
// reconnects after a failure and then wakes every waiter, since
// notifications sent meanwhile are lost.
func listen(ctx context.Context, cfg *pgx.ConnConfig, channel string, signals *store.Signals, log *slog.Logger) {
	health := store.NewHealth(log, "listener")
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			c, err := pgx.ConnectConfig(ctx, cfg)
			if ctx.Err() == nil {
				health.Observe(err)
			}
			return c, err
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				health.Observe(err)
			}
		},
		ReconnectDelay: time.Second,
	}
	l.Handle(channel, handler{signals})
	_ = l.Listen(ctx)
}

type handler struct{ signals *store.Signals }

func (h handler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	t, err := strconv.Atoi(n.Payload)
	if err == nil && t >= 0 && t < store.NumTopics {
		h.signals.Notify(store.Topic(t))
	}
	return nil
}

// HandleBacklog runs on every (re)connection: whatever happened while not
// listening is unknown, so every waiter looks again.
func (h handler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	for t := 0; t < store.NumTopics; t++ {
		h.signals.Notify(store.Topic(t))
	}
	return nil
}
