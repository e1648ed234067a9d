package worker

import (
	"context"
	"errors"
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
// chunks, fenced by the attempt's lease. The last chunk travels with the
// attempt's completion, in the same transaction.
type logShipper struct {
	w *Worker
	a *attempt

	mu      sync.Mutex
	buf     []byte
	seq     int
	timer   *time.Timer
	dropped int
	closed  bool
	mask    *secret.Masker
	flushMu sync.Mutex // one flush at a time, in order
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
	if l.timer == nil && !big {
		l.timer = time.AfterFunc(logFlushEvery, l.flush)
	}
	l.mu.Unlock()
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

// flush writes the buffered lines as the next chunk.
func (l *logShipper) flush() {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if l.closed || len(l.buf) == 0 {
		l.mu.Unlock()
		return
	}
	data := l.takeLocked()
	seq := l.seq + 1
	l.mu.Unlock()

	err := l.w.st.AttemptLogAppend(context.Background(), &store.AttemptLogAppendParams{
		Lease: l.a.claim.Lease,
		Chunk: store.LogChunk{Seq: seq, Data: data},
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		l.seq = seq
	case errors.Is(err, sluice.ErrLeaseLost):
		l.closed = true
		go l.w.lost(l.a)
	default:
		// The database is unreachable: keep the lines for the next try.
		l.w.health.Observe(err)
		l.buf = append(data, l.buf...)
		if l.timer == nil {
			l.timer = time.AfterFunc(time.Second, l.flush)
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
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.closed = true
	if len(l.buf) == 0 && l.dropped == 0 {
		return nil
	}
	return &store.LogChunk{Seq: l.seq + 1, Data: l.takeLocked()}
}
