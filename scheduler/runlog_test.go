package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// recorder is a slog.Handler that keeps the records it is given.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// infos returns the Info lines so far as message and attributes, and
// forgets every record.
func (r *recorder) infos() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if rec.Level != slog.LevelInfo {
			continue
		}
		m := map[string]string{"msg": rec.Message}
		rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	r.records = nil
	return out
}

// TestCreatedRunsAreToldOncePerMinute checks the Info lines of scheduled
// runs: a run after a quiet spell is told at once with its pipeline and
// run; the runs of the next minute are told once, counted.
func TestCreatedRunsAreToldOncePerMinute(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	log := slog.New(rec)
	var c createdLog
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	c.add(log, &store.Run{ID: 1, PipelineID: "a", LogicalDate: t0})
	c.flush(log, t0)
	got := rec.infos()
	if len(got) != 1 || got[0]["msg"] != "scheduled run created" || got[0]["pipeline"] != "a" || got[0]["run"] != "1" {
		t.Fatalf("Info lines of one run after a quiet spell = %v", got)
	}
	for i, p := range []string{"a", "b", "b"} {
		c.add(log, &store.Run{ID: int64(i + 2), PipelineID: p, LogicalDate: t0})
	}
	c.flush(log, t0.Add(30*time.Second))
	if got := rec.infos(); len(got) != 0 {
		t.Fatalf("Info lines within the minute = %v, want none", got)
	}
	c.flush(log, t0.Add(time.Minute))
	got = rec.infos()
	if len(got) != 1 || got[0]["msg"] != "scheduled runs created" || got[0]["runs"] != "3" || got[0]["pipelines"] != "2" || got[0]["since"] != t0.Format(time.RFC3339) {
		t.Fatalf("Info lines after the minute = %v", got)
	}
	c.flush(log, t0.Add(5*time.Minute))
	if got := rec.infos(); len(got) != 0 {
		t.Fatalf("Info lines with no new run = %v, want none", got)
	}
}
