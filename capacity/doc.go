// Package capacity plans capacity from the run history: for each pipeline
// and pool over the last N days it builds daily series (runs per day, p50
// and p95 run time, pool utilisation, the volumes tasks report), fits a
// straight line through each by least squares, and says when the line
// crosses a limit: "at this growth, pool `warehouse` is full from
// 2027-02-10".
//
// Compute is a pure function from the store's aggregates
// (store.CapacityHistory) to a Report; Load reads them and calls it.
//
// # What is measured
//
// Days are whole UTC days; the day the report is made is left out, since
// it is not over. A run counts on the day it started.
//
//   - Runs per day: the runs that started each day.
//   - Run time: the median (p50) and 95th percentile (p95, nearest rank)
//     of the durations of each day's successful runs; failed runs stop
//     early and would pull it down. The forecast asks when p95 passes the
//     schedule's interval (see Interval): from then on, one run in twenty
//     is still running when the next is due.
//   - Pool utilisation: the slot-seconds the pool's attempts used (each
//     attempt holds its task's pool_slots from start to end, whatever
//     its outcome) ÷ (slots × the seconds of the period). Mean is per
//     day; Peak is each day's busiest hour. The forecast is made on Peak:
//     work comes in bursts (everything at 03:00), and a pool full in its
//     busiest hour already makes tasks wait while its daily mean may look
//     low. An hour is long enough to smooth single tasks out and short
//     enough to see a nightly burst. Slots are the pool's size now; past
//     sizes are not kept, so after resizing a pool its history reads
//     against the new size.
//   - Volumes: a task reports one by writing "metric.<name>=<number>" to
//     $SLUICE_OUTPUT. Each day's mean of the values is the series a
//     threshold is compared with (for a task that runs once a day, its
//     value); the sum and maximum are shown too. Values that are not
//     numbers are stored as outputs like any other, counted and named in
//     a note, and otherwise ignored: a metric is an observation, and a
//     typo in one must not fail a load.
//
// # When a forecast is made
//
// A forecast needs at least Rules.MinDays (7) days with data; with fewer
// it says so. A rising line counts as growth only when its slope is at
// least Rules.MinT (2) standard errors: noise around a flat level would
// otherwise yield far-off dates that mean nothing. The crossing date is
// the first whole day on which the line is at or past the limit; a date
// further than Rules.Horizon (two years) is not given, since a line
// through a month says little about years.
//
// Series of counts (runs per day, utilisation) must not begin with a day
// that is only partly stored, or the first day would look low and fake
// growth. A pipeline's series starts on the first whole day after its
// oldest stored run (or on the window's first day, when its history
// reaches further back); days after that without runs count as 0. A
// pool's series starts when every pipeline that used it in the window has
// its whole history, for the same reason: a pipeline that is new, or
// keeps its runs less long (retention: in its file), would otherwise add
// use that looks like growth; a note says so. Run times and volumes have
// no value on a day without data, which is left out of their series.
//
// # History and retention
//
// The report can only use runs the store still holds. Retention prunes
// finished runs after 30 days by default (the server's --retention, or a
// pipeline's retention:). The default window is 28 days: four whole weeks,
// within those 30 days. A longer window than the history is cut short:
// the report says where its history starts (Report.Oldest, and a note)
// and forecasts from the days it has. To plan from a longer history, keep
// runs longer.
package capacity
