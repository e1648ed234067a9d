package capacity

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Window sizes, in days.
const (
	// DefaultDays is the window of a report: four whole weeks, so that
	// weekly patterns (quiet weekends) weigh the same at both ends of a
	// trend, and within the 30 days the default retention keeps runs (a
	// window of 30 whole days would begin in a day retention has already
	// cut into).
	DefaultDays = 28
	// MaxDays bounds a window; the store's work grows with it.
	MaxDays = 366
)

// Reader is what Load reads from the store.
type Reader interface {
	store.Capacity
	PipelineList(ctx context.Context) ([]*store.Pipeline, error)
	PipelineGet(ctx context.Context, id string) (*store.Pipeline, error)
	PoolList(ctx context.Context) ([]*store.Pool, error)
}

// Options configure Load.
type Options struct {
	// Days is the window, in whole UTC days before the day of Now;
	// default DefaultDays, at most MaxDays.
	Days int
	// Now is when the report is made; default the system clock's now.
	Now time.Time
	// PipelineID limits the report to one pipeline's runs and volumes;
	// pools are shown whole, since they are shared.
	PipelineID string
	// Thresholds are limits of volumes to forecast.
	Thresholds []Threshold
	// MaxDurations bounds the run durations read per pipeline; default
	// store.DefaultMaxDurations.
	MaxDurations int
	Rules        Rules
}

// Load reads the history of the window from st and computes its report.
func Load(ctx context.Context, st Reader, o Options) (*Report, error) {
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.Days < 1 || o.Days > MaxDays {
		return nil, sluice.Errorf(sluice.EINVALID, "days=%d: want 1 to %d", o.Days, MaxDays)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxDurations <= 0 {
		o.MaxDurations = store.DefaultMaxDurations
	}
	if o.PipelineID != "" {
		if _, err := st.PipelineGet(ctx, o.PipelineID); err != nil {
			return nil, err
		}
	}
	now := o.Now.UTC()
	to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := to.AddDate(0, 0, -o.Days)
	h, err := st.CapacityHistory(ctx, &store.CapacityHistoryParams{From: from, To: to, Now: now, PipelineID: o.PipelineID, MaxDurations: o.MaxDurations})
	if err != nil {
		return nil, err
	}
	pipelines, err := st.PipelineList(ctx)
	if err != nil {
		return nil, err
	}
	pools, err := st.PoolList(ctx)
	if err != nil {
		return nil, err
	}
	return Compute(Input{History: h, Pipelines: pipelines, Pools: pools, Thresholds: o.Thresholds,
		PipelineID: o.PipelineID, MaxDurations: o.MaxDurations, Rules: o.Rules})
}
