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
//
// The completion of the worker's only running attempt, when no
// transaction is under way, is written by the attempt's goroutine
// itself, which then runs the attempt claimed along with it: a chain's
// hop stays on one goroutine and one thread. Handing it to the goroutine
// of run and the next attempt to a goroutine of its own cost two wake-ups
// of another thread per hop, on a virtual machine whose idle cores wake
// slowly. With other attempts running, their completions may join the
// batch, and run writes it as before: written at once, a fan-out's
// batches came out smaller. What arrives during an attempt's own write,
// and every retry, is run's too.
type completer struct {
	w *Worker

	mu      sync.Mutex
	pending []*completion
	writing bool // a transaction of completions is under way
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

// add records the outcome of a. When a is the worker's only running
// attempt and no transaction is under way, add writes it before it
// returns, and returns an attempt claimed along with it for the caller to
// run (nil if none); otherwise run writes it.
func (c *completer) add(p *store.AttemptCompleteParams, a *attempt) *attempt {
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		c.w.release(a)
		return nil
	}
	c.pending = append(c.pending, &completion{p: p, a: a})
	if c.writing || c.w.Running() > 1 {
		c.mu.Unlock()
		c.signal()
		return nil
	}
	batch := c.take()
	c.mu.Unlock()
	next, _ := c.write(batch, true)
	c.mu.Lock()
	c.writing = false
	more := len(c.pending) > 0 || c.closed
	c.mu.Unlock()
	if more {
		c.signal() // run writes what came meanwhile, or retries
	}
	return next
}

// take takes the next batch from pending and marks it being written. c.mu
// is held.
func (c *completer) take() []*completion {
	batch := c.pending
	if len(batch) > maxBatch {
		batch = batch[:maxBatch]
	}
	c.pending = c.pending[len(batch):]
	c.writing = true
	return batch
}

func (c *completer) signal() {
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
	c.signal()
}

// run writes completions until closed and empty. It gives up on what is
// pending only when killed; those leases then expire and are requeued.
func (c *completer) run(kill context.Context) {
	failures := 0
	for {
		c.mu.Lock()
		if c.writing || len(c.pending) == 0 {
			done := c.closed && !c.writing && len(c.pending) == 0
			c.mu.Unlock()
			if done {
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
		batch := c.take()
		c.mu.Unlock()
		_, ok := c.write(batch, false)
		c.mu.Lock()
		c.writing = false
		c.mu.Unlock()
		if ok {
			failures = 0
			continue
		}
		failures++ // health logged the outage once
		// An outage shorter than the lease loses nothing.
		select {
		case <-time.After(store.Backoff(failures, 5*time.Second)):
		case <-kill.Done():
			c.abandon()
			return
		}
	}
}

// write writes batch in one transaction, which claims the next tasks for
// the free slots if the completions readied some, and starts those
// attempts; with keep it returns the first of them for the caller to run
// instead. If the transaction fails, batch goes back in front of pending
// and write reports false.
func (c *completer) write(batch []*completion, keep bool) (*attempt, bool) {
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
		c.mu.Lock()
		gone := c.gone
		if !gone {
			c.pending = append(batch, c.pending...)
		}
		c.mu.Unlock()
		if gone { // killed while this transaction ran
			for _, b := range batch {
				c.w.release(b.a)
			}
		}
		return nil, false
	}
	for i, b := range batch {
		c.settled(b, results[i])
	}
	return c.w.startClaims(claims, *free, keep), true
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
