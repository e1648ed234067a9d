package store

import (
	"log/slog"
	"sync"
	"time"
)

// Health follows whether a process can reach its database, and logs one
// line when that changes, not one per failed call, so an outage reads as
// "unavailable … reachable again after 42s" instead of a flood.
type Health struct {
	log  *slog.Logger
	what string

	mu       sync.Mutex
	down     bool
	since    time.Time
	lastErr  error
	failures int
}

// NewHealth returns a Health that logs as what (e.g. "worker") to log.
func NewHealth(log *slog.Logger, what string) *Health {
	return &Health{log: log, what: what}
}

// Observe records the outcome of a database call: err == nil means the
// database answered. Domain errors (not found, lease lost, invalid) also
// mean it answered; pass only errors of reaching it.
func (h *Health) Observe(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		if h.down {
			h.log.Info("database reachable again", "role", h.what, "down_for", time.Since(h.since).Round(time.Millisecond).String(), "failed_calls", h.failures)
		}
		h.down, h.failures, h.lastErr = false, 0, nil
		return
	}
	h.failures++
	h.lastErr = err
	if !h.down {
		h.down, h.since = true, time.Now()
		h.log.Warn("database unavailable; retrying with backoff", "role", h.what, "err", err)
	}
}

// Down reports whether the last call failed, and its error.
func (h *Health) Down() (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down, h.lastErr
}

// Backoff returns how long to wait before the next call after n
// consecutive failures: 100ms doubling to max.
func Backoff(n int, max time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
