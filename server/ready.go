package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Defaults of WritesConfig.
const (
	DefaultWriteSettle = 10 * time.Second
	DefaultProbeEvery  = 5 * time.Second
)

// writesHint is what /readyz tells to do about failing writes.
const writesHint = "the database does not take this process's writes: free space on its disk, make it writable again, or restore its connection; this process keeps retrying and is ready again by itself once writes succeed"

// WritesConfig configures NewWrites. Zero values take the defaults.
type WritesConfig struct {
	// Next hears every call too (the process's metrics); nil for none.
	Next store.Observer
	// Settle is how long a failed operation must go without failing again
	// before another operation's success clears it too; default
	// DefaultWriteSettle. It is longer than the retry interval of every
	// operation a scheduler or worker retries (at most 5s), so an
	// operation that keeps failing while others succeed (a full disk fails
	// the writes that need room) keeps counting.
	Settle time.Duration
	// ProbeEvery is how often Run probes the store's writes; default
	// DefaultProbeEvery.
	ProbeEvery time.Duration
}

// Writes follows whether this process's database writes succeed, for
// /readyz: a scheduler or a worker whose writes fail (a full disk, a
// database turned read-only, a lost connection) cannot do its work,
// however well the database still answers reads.
//
// It hears every write transaction as the store's observer
// (store.Observable). A write that fails for want of the database (not a
// refusal such as a lost lease) marks its operation failing, with the
// error. The next success of that operation clears it, and so does the
// success of any write once the operation has not failed for Settle: an
// operation that is not tried again (a trigger from the UI) does not keep
// the process unready after the database recovered. A probe (Run) writes
// every ProbeEvery, so an idle process notices an outage and its end.
type Writes struct {
	cfg WritesConfig

	mu      sync.Mutex
	failing map[string]*writeFailure // by store operation
}

// writeFailure is an operation whose last call failed.
type writeFailure struct {
	err         error
	since, last time.Time
	calls       int
}

var _ store.Observer = (*Writes)(nil)

// NewWrites returns a Writes for cfg; make it the store's observer.
func NewWrites(cfg WritesConfig) *Writes {
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultWriteSettle
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	return &Writes{cfg: cfg, failing: map[string]*writeFailure{}}
}

// DBCall implements store.Observer.
func (w *Writes) DBCall(op string, d time.Duration, err error) {
	if w.cfg.Next != nil {
		w.cfg.Next.DBCall(op, d, err)
	}
	if op != "read" {
		w.record(op, err, time.Now())
	}
}

// RunChanged implements store.Observer.
func (w *Writes) RunChanged(e store.RunEvent) {
	if w.cfg.Next != nil {
		w.cfg.Next.RunChanged(e)
	}
}

// probeOp names the probe among the operations.
const probeOp = "ProbeWrite"

// Run probes the store's writes (store.WriteProber) every ProbeEvery
// until ctx ends; it returns at once for a store that cannot be probed.
func (w *Writes) Run(ctx context.Context, st store.Store) {
	p, ok := st.(store.WriteProber)
	if !ok {
		return
	}
	t := time.NewTicker(w.cfg.ProbeEvery)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(w.cfg.ProbeEvery, 5*time.Second))
		err := p.ProbeWrite(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.record(probeOp, err, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// record notes the outcome of one write of op at now.
func (w *Writes) record(op string, err error, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		delete(w.failing, op)
		// Writes work: what failed long enough ago no longer counts.
		for other, f := range w.failing {
			if now.Sub(f.last) >= w.cfg.Settle {
				delete(w.failing, other)
			}
		}
	case writeFailed(err):
		f := w.failing[op]
		if f == nil {
			f = &writeFailure{since: now}
			w.failing[op] = f
		}
		f.err, f.last = err, now
		f.calls++
	}
}

// writeFailed reports whether err means the database could not take a
// write, rather than that it refused one (a lost lease, a conflict: it
// answered) or that the caller gave up.
func writeFailed(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch sluice.ErrorCode(err) {
	case sluice.EINTERNAL, sluice.EUNAVAIL:
		return true
	}
	return false
}

// Err returns nil while writes succeed; otherwise an error that names each
// failing operation with its error, since when and how many calls failed.
func (w *Writes) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.failing) == 0 {
		return nil
	}
	ops := make([]string, 0, len(w.failing))
	for op := range w.failing {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		f := w.failing[op]
		parts[i] = fmt.Sprintf("%s: %v (failing since %s, %d calls)", op, f.err, f.since.UTC().Format(time.RFC3339), f.calls)
	}
	return fmt.Errorf("database writes fail: %s", strings.Join(parts, "; "))
}
