package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
)

// TestWritesRecord pins which write outcomes count and how a failure
// stops counting, with explicit times.
func TestWritesRecord(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return at.Add(time.Duration(n) * time.Second) }
	full := errors.New("store: database or disk is full (13)")
	w := NewWrites(WritesConfig{Settle: 10 * time.Second})

	// Refusals and a caller that gave up say nothing about writes.
	w.record("AttemptComplete", sluice.ErrLeaseLost, sec(0))
	w.record("RunCreate", sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version", "p"), sec(0))
	w.record("InstanceClaim", fmt.Errorf("store: %w", context.Canceled), sec(0))
	if err := w.Err(); err != nil {
		t.Fatalf("refusals count as failing writes: %v", err)
	}

	// A failure counts until the same operation succeeds.
	w.record("AttemptLogAppend", full, sec(1))
	w.record("AttemptLogAppend", full, sec(2))
	w.record("WorkerUpsert", nil, sec(3)) // another operation: no news of this one
	err := w.Err()
	if err == nil || !strings.Contains(err.Error(), "AttemptLogAppend: store: database or disk is full (13) (failing since 2026-03-02T10:00:01Z, 2 calls)") {
		t.Fatalf("Err = %v", err)
	}
	w.record("AttemptLogAppend", nil, sec(4))
	if err := w.Err(); err != nil {
		t.Fatalf("after the operation succeeded: %v", err)
	}

	// An operation that keeps failing counts while others succeed; one
	// not tried again stops counting once another write succeeds Settle
	// after its last failure, not before.
	for s := 10; s <= 60; s += 5 {
		w.record("AttemptLogAppend", full, sec(s))
		w.record(probeOp, nil, sec(s+1))
		w.record("AttemptHeartbeat", nil, sec(s+2))
	}
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "AttemptLogAppend") {
		t.Fatalf("an operation that keeps failing stopped counting: %v", err)
	}
	w.record("RunCreate", full, sec(60))
	w.record(probeOp, nil, sec(80))
	if err := w.Err(); err != nil {
		t.Fatalf("after a write 20s later: %v", err)
	}
	w.record("AttemptComplete", full, sec(100))
	w.record(probeOp, nil, sec(105))
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "AttemptComplete") {
		t.Fatalf("a success cleared a failure younger than Settle: %v", err)
	}
	w.record("InstanceClaim", nil, sec(110))
	if err := w.Err(); err != nil {
		t.Fatalf("after a write Settle later: %v", err)
	}

	// A failing probe counts like any write, and its success clears it.
	w.record(probeOp, full, sec(50))
	if w.Err() == nil {
		t.Fatal("a failing probe does not count")
	}
	w.record(probeOp, nil, sec(51))
	if err := w.Err(); err != nil {
		t.Fatalf("after the probe succeeded: %v", err)
	}
}
