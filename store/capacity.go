package store

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"
)

// Capacity is the part of the store behind capacity planning: daily and
// hourly aggregates of the run history, from which package capacity fits
// trends and forecasts.
type Capacity interface {
	// CapacityHistory summarises the history of [p.From, p.To): runs per
	// pipeline and day, a bounded sample of successful run durations,
	// pool slot use per hour, and the numeric "metric.<name>" outputs of
	// tasks per day. A run belongs to the day (or hour) its start falls
	// in, counted from p.From; slot use is counted where it happened,
	// split at hour boundaries.
	//
	// Cost: each part is one indexed range scan per pipeline of the runs
	// that started in the window (runs_pipeline_started), joined by key
	// to their attempts, or task instances and outputs; nothing outside
	// the window is read, except runs that started up to
	// CapacityLookback before p.From (for the slot use their attempts
	// spill into the window), and one index probe per pipeline for its
	// oldest run. What comes back is bounded by pipelines × days, pools ×
	// pipelines × hours, the attempts that cross an hour boundary (at most
	// the slots in use at each boundary), and MaxDurations per pipeline;
	// metric outputs are read one row each and summed by day as they come.
	CapacityHistory(ctx context.Context, p *CapacityHistoryParams) (*CapacityHistory, error)
}

// CapacityLookback is how far before a window CapacityHistory looks for
// runs whose attempts ran on into it. Slot use of runs that started
// earlier still is not counted: a run longer than this is rare, and
// counting it would need an index on every attempt's start.
const CapacityLookback = 2 * 24 * time.Hour

// CapacityHistoryParams are the arguments of Capacity.CapacityHistory.
type CapacityHistoryParams struct {
	// From and To bound the window; days and hours are counted from From,
	// so it is usually a UTC midnight.
	From, To time.Time
	// Now ends the slot use of attempts still running; default To.
	Now time.Time
	// PipelineID limits runs, durations and metrics to one pipeline when
	// not empty. Pool use is always of every pipeline: pools are shared.
	PipelineID string
	// MaxDurations bounds the durations returned per pipeline; beyond it
	// they are an even sample. Default 20,000.
	MaxDurations int
}

// DefaultMaxDurations is CapacityHistoryParams.MaxDurations' default.
const DefaultMaxDurations = 20000

// CapacityHistory is what Capacity.CapacityHistory returns.
type CapacityHistory struct {
	From, To time.Time
	// Oldest is the start of the oldest run the store holds (nil when it
	// holds none): history before it was pruned by retention, or never
	// happened. PipelineOldest is the same by pipeline, for pipelines
	// with runs: a pipeline may keep its runs for less long than others.
	Oldest         *time.Time
	PipelineOldest map[string]time.Time
	Runs           []RunDay
	// Durations are the durations of successful runs, all of them or an
	// even sample of at most MaxDurations per pipeline.
	Durations []RunDuration
	// PoolHours is the slot use of each pool by pipeline and hour; hours
	// without use are absent.
	PoolHours []PoolHour
	Metrics   []MetricDay
}

// RunDay counts the runs of a pipeline that started on one day.
type RunDay struct {
	PipelineID string
	// Day is the start of the day (From + n×24h).
	Day time.Time
	// Runs counts every run that started; Succeeded and Failed those that
	// finished so.
	Runs      int
	Succeeded int
	Failed    int
}

// RunDuration is how long one successful run took.
type RunDuration struct {
	PipelineID string
	Day        time.Time
	Duration   time.Duration
}

// PoolHour is how much of a pool the runs of one pipeline used in one
// hour.
type PoolHour struct {
	Pool       string
	PipelineID string
	// Hour is the start of the hour (From + n×1h).
	Hour time.Time
	// SlotSeconds is the sum, over the attempts of tasks in the pool, of
	// their pool_slots × the seconds they ran within the hour.
	SlotSeconds float64
}

// MetricDay aggregates the values of one metric output of a task over
// the runs that started on one day. A task reports a metric by writing
// "metric.<name>=<number>" to $SLUICE_OUTPUT.
type MetricDay struct {
	PipelineID string
	TaskID     string
	// Name is the output key without its "metric." prefix.
	Name string
	Day  time.Time
	// Count counts the numeric values (one per successful task instance,
	// or per item of a mapped task); Sum, Min and Max are theirs.
	Count         int
	Sum, Min, Max float64
	// Invalid counts values that are not a finite number; they are left
	// out of the rest.
	Invalid int
	// Example is one of the invalid values, for the message that names
	// them.
	Example string
}

// MetricPrefix starts the output keys that report a metric.
const MetricPrefix = "metric."

// MetricValue reads the value of a "metric.<name>" output: a finite
// decimal number such as 42, -1.5 or 1e6, surrounding spaces allowed. It
// reports false for anything else (empty, NaN, Inf, text).
func MetricValue(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
