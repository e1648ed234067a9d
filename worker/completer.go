package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// maxBatch bounds the completions written in one transaction.
const maxBatch = 256

// completer writes attempt outcomes in batches: whatever completions
// arrived while the previous transaction ran go together in the next one.
// An idle completer writes a lone completion at once, so batching adds no
// latency; a busy one amortises the commit over many attempts.
type completer struct {
	w *Worker

	mu      sync.Mutex
	pending []*completion
	wake    chan struct{}
	closed  bool
	gone    bool // run returned, killed: nothing more is written
}

type completion struct {
	p *store.AttemptCompleteParams
	a *attempt
}

func newCompleter(w *Worker) *completer {
	return &completer{w: w, wake: make(chan struct{}, 1)}
}

func (c *completer) add(p *store.AttemptCompleteParams, a *attempt) {
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		c.w.release(a)
		return
	}
	c.pending = append(c.pending, &completion{p: p, a: a})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close makes run return once everything pending is written.
func (c *completer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run writes completions until closed and empty. It gives up on what is
// pending only when killed; those leases then expire and are requeued.
func (c *completer) run(kill context.Context) {
	failures := 0
	for {
		c.mu.Lock()
		batch := c.pending
		if len(batch) > maxBatch {
			batch = batch[:maxBatch]
		}
		c.pending = c.pending[len(batch):]
		closed := c.closed
		c.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			select {
			case <-c.wake:
			case <-kill.Done():
				c.abandon()
				return
			}
			continue
		}
		ps := make([]*store.AttemptCompleteParams, len(batch))
		for i, b := range batch {
			ps[i] = b.p
		}
		// If the completions ready the next task of a chain, the same
		// transaction claims it for the slots free then.
		next, free := c.w.claimAlong()
		results, claims, err := c.w.st.AttemptCompleteClaim(context.Background(), ps, next)
		c.w.health.Observe(err)
		if err != nil {
			c.w.giveSlots(*free)
			// Put the batch back in front and retry: an outage shorter
			// than the lease loses nothing.
			c.mu.Lock()
			c.pending = append(batch, c.pending...)
			c.mu.Unlock()
			failures++ // health logged the outage once
			select {
			case <-time.After(store.Backoff(failures, 5*time.Second)):
			case <-kill.Done():
				c.abandon()
				return
			}
			continue
		}
		failures = 0
		for i, b := range batch {
			c.settled(b, results[i])
		}
		c.w.startClaims(claims, *free)
	}
}

// abandon gives up on the completions pending when the worker is killed:
// their attempts are forgotten, as the drain waits for every attempt to
// go, and their leases expire. Completions that come later are given up
// at once.
func (c *completer) abandon() {
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.gone = true
	c.mu.Unlock()
	for _, b := range batch {
		c.w.release(b.a)
	}
}

func (c *completer) settled(b *completion, err error) {
	w, cl := c.w, b.a.claim
	switch {
	case err == nil:
		lvl := w.log.Debug
		if b.p.State != sluice.AttemptSuccess {
			lvl = w.log.Info
		}
		w.cfg.Metrics.AttemptEnded(cl.PipelineID, b.p.State, b.p.FinishedAt.Sub(cl.StartedAt))
		lvl("attempt finished", "pipeline", cl.PipelineID, "run", cl.RunID, "task", cl.TaskID,
			"attempt", cl.Attempt, "state", string(b.p.State), "error", b.p.Error)
	case errors.Is(err, sluice.ErrLeaseLost):
		w.cfg.Metrics.AttemptEnded(cl.PipelineID, sluice.AttemptLost, b.p.FinishedAt.Sub(cl.StartedAt))
		w.log.Warn("attempt outcome discarded: its lease was taken over before it finished",
			"pipeline", cl.PipelineID, "run", cl.RunID, "task", cl.TaskID, "attempt", cl.Attempt, "state", string(b.p.State))
	}
	if w.cfg.OnAttempt != nil && err == nil {
		w.cfg.OnAttempt(cl, b.p.State)
	}
	w.release(b.a)
}
