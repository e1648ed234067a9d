package worker

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

const (
	// logFlushEvery is how often a running task's log reaches the database.
	logFlushEvery = 250 * time.Millisecond
	// logFlushSize flushes at once when this much is buffered.
	logFlushSize = 256 << 10
	// logMaxBuffer bounds the log kept in memory while the database is
	// unreachable; older lines are dropped beyond it, with a note.
	logMaxBuffer = 8 << 20
)

// logShipper buffers an attempt's log lines and writes them to the store in
// chunks, fenced by the attempt's lease: every logFlushEvery with the
// chunks of the worker's other attempts (logBatcher), at once when its
// buffer is big. The last chunk travels with the attempt's completion, in
// the same transaction.
type logShipper struct {
	w *Worker
	a *attempt

	mu        sync.Mutex
	buf       []byte
	seq       int
	scheduled bool // in the batcher's next flush
	dropped   int
	closed    bool
	mask      *secret.Masker
	flushMu   sync.Mutex // one flush at a time, in order
}

// logBatcher writes the buffered chunks of all of a worker's attempts in
// one transaction every logFlushEvery. Each attempt flushing on its own
// timer made a transaction per attempt four times a second: 200 chatty
// tasks on one worker, 800 write transactions a second.
type logBatcher struct {
	w *Worker

	mu      sync.Mutex
	pending []*logShipper
	timer   *time.Timer
}

// schedule has l written in the next flush, which it starts the clock of
// if none is due.
func (b *logBatcher) schedule(l *logShipper, after time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, l)
	if b.timer == nil {
		b.timer = time.AfterFunc(after, b.flush)
	}
}

// flush writes the chunks of every scheduled shipper in one transaction.
func (b *logBatcher) flush() {
	b.mu.Lock()
	ls := b.pending
	b.pending, b.timer = nil, nil
	b.mu.Unlock()
	// In attempt order, as each shipper's flushMu is taken: nothing else
	// holds two of them, so no order of waiting can close a circle.
	slices.SortFunc(ls, func(x, y *logShipper) int { return cmp.Compare(x.a.claim.AttemptID, y.a.claim.AttemptID) })
	ls = slices.Compact(ls)
	var (
		taken []*logShipper
		ps    []*store.AttemptLogAppendParams
	)
	for _, l := range ls {
		l.flushMu.Lock()
		l.mu.Lock()
		l.scheduled = false
		if l.closed || len(l.buf) == 0 {
			l.mu.Unlock()
			l.flushMu.Unlock()
			continue
		}
		data := l.takeLocked()
		ps = append(ps, &store.AttemptLogAppendParams{Lease: l.a.claim.Lease, Chunk: store.LogChunk{Seq: l.seq + 1, Data: data}})
		l.mu.Unlock()
		taken = append(taken, l)
	}
	if len(taken) == 0 {
		return
	}
	results, err := b.w.st.AttemptLogAppendMany(context.Background(), ps)
	for i, l := range taken {
		var one error
		if err != nil {
			one = err
		} else {
			one = results[i]
		}
		l.settle(ps[i].Chunk, one)
		l.flushMu.Unlock()
	}
}

func newLogShipper(w *Worker, a *attempt) *logShipper { return &logShipper{w: w, a: a} }

// Line implements executor.LogSink.
func (l *logShipper) Line(stream executor.Stream, at time.Time, line []byte) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if len(l.buf)+len(line) > logMaxBuffer {
		l.dropped++
		l.mu.Unlock()
		return
	}
	line = l.mask.Bytes(line)
	l.buf = strconv.AppendInt(l.buf, at.UnixMicro(), 10)
	l.buf = append(l.buf, ' ', byte(stream), ' ')
	l.buf = append(l.buf, line...)
	l.buf = append(l.buf, '\n')
	big := len(l.buf) >= logFlushSize
	schedule := !l.scheduled && !big
	l.scheduled = l.scheduled || schedule
	l.mu.Unlock()
	if schedule {
		l.w.logs.schedule(l, logFlushEvery)
	}
	if big {
		l.flush() // back-pressure on a task that writes faster than we store
	}
}

// setMask has the secrets of m masked in every line to come. The worker
// sets it before the attempt can write a line.
func (l *logShipper) setMask(m *secret.Masker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mask = m
}

// flush writes the buffered lines as the next chunk, now and alone.
func (l *logShipper) flush() {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	if l.closed || len(l.buf) == 0 {
		l.mu.Unlock()
		return
	}
	chunk := store.LogChunk{Seq: l.seq + 1, Data: l.takeLocked()}
	l.mu.Unlock()
	err := l.w.st.AttemptLogAppend(context.Background(), &store.AttemptLogAppendParams{Lease: l.a.claim.Lease, Chunk: chunk})
	l.settle(chunk, err)
}

// settle records how the write of chunk ended. l.flushMu is held.
func (l *logShipper) settle(chunk store.LogChunk, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		l.seq = chunk.Seq
	case errors.Is(err, sluice.ErrLeaseLost):
		l.closed = true
		go l.w.lost(l.a)
	default:
		// The database is unreachable: keep the lines for the next try.
		l.w.health.Observe(err)
		l.buf = append(chunk.Data, l.buf...)
		if !l.scheduled {
			l.scheduled = true
			l.w.logs.schedule(l, time.Second) // l.mu before b.mu, as in Line
		}
	}
}

func (l *logShipper) takeLocked() []byte {
	if l.dropped > 0 {
		note := strconv.AppendInt(nil, time.Now().UnixMicro(), 10)
		note = append(note, " s "...)
		note = append(note, "sluice: "+strconv.Itoa(l.dropped)+" log lines dropped while the database was unreachable\n"...)
		l.buf = append(l.buf, note...)
		l.dropped = 0
	}
	data := l.buf
	l.buf = nil
	return data
}

// final stops shipping and returns what is left as the last chunk, to be
// written with the completion.
func (l *logShipper) final() *store.LogChunk {
	l.flushMu.Lock() // wait for a flush in flight
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true // the batcher passes it by
	if len(l.buf) == 0 && l.dropped == 0 {
		return nil
	}
	return &store.LogChunk{Seq: l.seq + 1, Data: l.takeLocked()}
}
