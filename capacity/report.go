package capacity

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// Report is the capacity report of a window of whole UTC days.
type Report struct {
	// From and To bound the window: From is a UTC midnight, To the
	// midnight that starts the day the report was made (today is left out
	// because it is not over).
	From, To time.Time
	Days     int
	// Oldest is the start of the oldest run stored; nil when none is.
	Oldest    *time.Time
	Pipelines []*PipelineTrend
	Pools     []*PoolTrend
	Volumes   []*VolumeTrend
	// Notes say what limits the report: missing history, sampling,
	// values that are not numbers.
	Notes []string
}

// Series is a daily series with its trend.
type Series struct {
	Points []Point
	// Fit is the trend; nil with fewer than two points.
	Fit *Fit
}

func newSeries(points []Point) Series {
	s := Series{Points: points}
	if f, ok := LinearFit(points); ok {
		s.Fit = &f
	}
	return s
}

// Last is the value of the last point, 0 without points.
func (s Series) Last() float64 {
	if len(s.Points) == 0 {
		return 0
	}
	return s.Points[len(s.Points)-1].Value
}

// Forecast is a crossing told about one subject, in words.
type Forecast struct {
	Crossing
	// Subject is what it is about: "pool warehouse", "pipeline
	// daily_orders", "metric daily_orders.load.rows".
	Subject string
	// Risk is high (reached, or within 30 days), medium (within 90
	// days), low (later), none (not growing, or beyond the horizon) or
	// unknown (too little data).
	Risk string
	// Message says it in a sentence, such as "at this growth, pool
	// `warehouse` is full from 2027-02-10".
	Message string
}

// The risk levels of a forecast, most urgent first.
const (
	RiskHigh    = "high"
	RiskMedium  = "medium"
	RiskLow     = "low"
	RiskNone    = "none"
	RiskUnknown = "unknown"
)

func riskOf(c Crossing) string {
	switch c.Status {
	case StatusAlready:
		return RiskHigh
	case StatusDate:
		switch {
		case c.Days <= 30:
			return RiskHigh
		case c.Days <= 90:
			return RiskMedium
		}
		return RiskLow
	case StatusInsufficient:
		return RiskUnknown
	}
	return RiskNone
}

func riskRank(r string) int {
	return slices.Index([]string{RiskHigh, RiskMedium, RiskLow, RiskUnknown, RiskNone}, r)
}

// PipelineTrend is the history and forecast of one pipeline.
type PipelineTrend struct {
	ID       string
	Schedule string
	// Interval is the shortest gap between the schedule's next fire
	// times; 0 for a pipeline without a schedule.
	Interval time.Duration
	// Runs, Succeeded and Failed count the window's runs.
	Runs, Succeeded, Failed int
	// RunsPerDay counts the runs that started each day.
	RunsPerDay Series
	// P50 and P95 are the median and 95th percentile of the durations of
	// the successful runs of each day, in seconds.
	P50, P95 Series
	// Sampled reports that the durations are an even sample.
	Sampled bool
	// Overrun forecasts when P95 passes Interval; nil without a schedule.
	Overrun *Forecast
}

// PoolTrend is the history and forecast of one pool.
type PoolTrend struct {
	Name string
	// Slots is the pool's size now: utilisation is measured against it
	// (sizes of the past are not kept). 0 for a pool that no longer
	// exists but was used.
	Slots  int
	Exists bool
	// SlotHours is the window's total use.
	SlotHours float64
	// Mean is each day's utilisation: the slot-seconds used ÷ (slots ×
	// 86,400), from 0 to 1.
	Mean Series
	// Peak is the utilisation of each day's busiest hour: slot-seconds
	// used in the hour ÷ (slots × 3,600). The forecast is made on it,
	// since a pool that is full in its busiest hour already makes tasks
	// wait, whatever its daily mean.
	Peak Series
	// Users are the pipelines that used the pool, most first.
	Users []PoolUser
	// FullDays counts the days whose busiest hour was full (≥ 99.5%).
	FullDays int
	// Full forecasts when Peak reaches 100%; nil for a pool of 0 slots or
	// one that no longer exists.
	Full *Forecast
}

// PoolUser is a pipeline's share of a pool's use.
type PoolUser struct {
	Pipeline  string
	SlotHours float64
}

// VolumeTrend is the history of one metric a task reports.
type VolumeTrend struct {
	Pipeline, Task, Metric string
	// Count is the number of values in the window; Invalid the values
	// that were not numbers, and Example one of them.
	Count   int
	Invalid int
	Example string
	// Mean is each day's mean value, Sum its total and Max its largest.
	Mean, Sum, Max Series
	// Threshold is the limit the user gave for Mean, and Forecast when
	// it is passed; both nil without one.
	Threshold *float64
	Forecast  *Forecast
}

// Key is the volume's name in thresholds: pipeline.task.metric.
func (v *VolumeTrend) Key() string { return v.Pipeline + "." + v.Task + "." + v.Metric }

// Forecasts returns every forecast of the report, most urgent first.
func (r *Report) Forecasts() []*Forecast {
	var out []*Forecast
	for _, p := range r.Pipelines {
		if p.Overrun != nil {
			out = append(out, p.Overrun)
		}
	}
	for _, p := range r.Pools {
		if p.Full != nil {
			out = append(out, p.Full)
		}
	}
	for _, v := range r.Volumes {
		if v.Forecast != nil {
			out = append(out, v.Forecast)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := riskRank(a.Risk), riskRank(b.Risk); ra != rb {
			return ra < rb
		}
		if a.Date != nil && b.Date != nil && !a.Date.Equal(*b.Date) {
			return a.Date.Before(*b.Date)
		}
		return false
	})
	return out
}

// Input is what Compute works from.
type Input struct {
	History *store.CapacityHistory
	// Pipelines are the stored pipelines, for their schedules.
	Pipelines []*store.Pipeline
	// Pools are the pools that exist, for their slots.
	Pools []*store.Pool
	// Thresholds are limits of volumes to forecast.
	Thresholds []Threshold
	// PipelineID limits the report to one pipeline when not empty.
	PipelineID string
	// MaxDurations is the sampling bound the history was read with.
	MaxDurations int
	Rules        Rules
}

// Compute builds the report of a history. It is a pure function of its
// input, so its tests need no store.
func Compute(in Input) (*Report, error) {
	in.Rules = in.Rules.withDefaults()
	h := in.History
	r := &Report{From: h.From, To: h.To, Days: int(h.To.Sub(h.From) / Day), Oldest: h.Oldest}
	asOf := h.To
	if h.Oldest == nil {
		r.Notes = append(r.Notes, "No runs are stored yet: there is nothing to plan from.")
	} else if h.Oldest.After(h.From) {
		r.Notes = append(r.Notes, fmt.Sprintf("History starts on %s: older runs were pruned by retention, or never happened. "+
			"The report uses the %s since; to plan from a longer history, keep runs longer.",
			h.Oldest.Format(time.DateOnly), plural(int(h.To.Sub(*h.Oldest)/Day), "whole day")))
	}
	if err := r.pipelines(in, asOf); err != nil {
		return nil, err
	}
	r.pools(in, asOf)
	if err := r.volumes(in, asOf); err != nil {
		return nil, err
	}
	return r, nil
}

// dayIndex is the index of day in the window.
func (r *Report) dayIndex(day time.Time) int { return int(day.Sub(r.From) / Day) }

// historyFrom is when the stored history of a pipeline starts: the start
// of its oldest run (before it, runs were pruned, or it did not exist).
func historyFrom(h *store.CapacityHistory, pipelineID string) time.Time {
	if t, ok := h.PipelineOldest[pipelineID]; ok {
		return t
	}
	if h.Oldest != nil {
		return *h.Oldest
	}
	return time.Time{}
}

// countSeries turns daily values (index → value) into points from the
// series' start to the window's last day, 0 where a day has none. The
// series starts on its first day with data, but not before complete, the
// first day the history covers whole: a day cut short (by retention, or
// by a pipeline created that day) would fake growth.
func (r *Report) countSeries(values map[int]float64, complete time.Time) []Point {
	first := -1
	for i := range values {
		if first < 0 || i < first {
			first = i
		}
	}
	if first < 0 {
		return nil
	}
	first = max(first, int(math.Ceil(complete.Sub(r.From).Hours()/24)))
	var pts []Point
	for i := first; i < r.Days; i++ {
		pts = append(pts, Point{Day: r.From.Add(time.Duration(i) * Day), Value: values[i]})
	}
	return pts
}

// sparseSeries turns daily values into points on the days that have one.
func (r *Report) sparseSeries(values map[int]float64) []Point {
	var pts []Point
	for i, v := range values {
		pts = append(pts, Point{Day: r.From.Add(time.Duration(i) * Day), Value: v})
	}
	slices.SortFunc(pts, func(a, b Point) int { return a.Day.Compare(b.Day) })
	return pts
}

func (r *Report) pipelines(in Input, asOf time.Time) error {
	h := in.History
	byID := map[string]*PipelineTrend{}
	get := func(id string) *PipelineTrend {
		p := byID[id]
		if p == nil {
			p = &PipelineTrend{ID: id}
			byID[id] = p
		}
		return p
	}
	counts := map[string]map[int]float64{}
	for _, rd := range h.Runs {
		p := get(rd.PipelineID)
		p.Runs += rd.Runs
		p.Succeeded += rd.Succeeded
		p.Failed += rd.Failed
		if counts[rd.PipelineID] == nil {
			counts[rd.PipelineID] = map[int]float64{}
		}
		counts[rd.PipelineID][r.dayIndex(rd.Day)] += float64(rd.Runs)
	}
	durs := map[string]map[int][]float64{}
	for _, d := range h.Durations {
		if durs[d.PipelineID] == nil {
			durs[d.PipelineID] = map[int][]float64{}
		}
		i := r.dayIndex(d.Day)
		durs[d.PipelineID][i] = append(durs[d.PipelineID][i], d.Duration.Seconds())
	}
	for _, sp := range in.Pipelines {
		if in.PipelineID != "" && sp.ID != in.PipelineID {
			continue
		}
		// A pipeline without runs in the window is shown when it has a
		// schedule: its forecast says why there is none.
		if byID[sp.ID] == nil && sp.Schedule == "" {
			continue
		}
		p := get(sp.ID)
		p.Schedule = sp.Schedule
		if sp.Schedule != "" {
			iv, err := Interval(sp.Schedule, asOf)
			if err == nil {
				p.Interval = iv
			}
		}
	}
	maxDur := in.MaxDurations
	if maxDur <= 0 {
		maxDur = store.DefaultMaxDurations
	}
	var sampled []string
	for id, p := range byID {
		p.RunsPerDay = newSeries(r.countSeries(counts[id], historyFrom(h, id)))
		p50, p95 := map[int]float64{}, map[int]float64{}
		for i, ds := range durs[id] {
			slices.Sort(ds)
			p50[i], p95[i] = Percentile(ds, 0.50), Percentile(ds, 0.95)
		}
		p.P50, p.P95 = newSeries(r.sparseSeries(p50)), newSeries(r.sparseSeries(p95))
		if p.Succeeded > maxDur {
			p.Sampled = true
			sampled = append(sampled, "`"+id+"`")
		}
		if p.Interval > 0 {
			c := Cross(p.P95.Points, p.Interval.Seconds(), asOf, in.Rules)
			var oldest *time.Time
			if t, ok := h.PipelineOldest[id]; ok {
				oldest = &t
			}
			p.Overrun = overrunForecast(p, c, in.Rules, oldest, r.To)
		}
		r.Pipelines = append(r.Pipelines, p)
	}
	slices.SortFunc(r.Pipelines, func(a, b *PipelineTrend) int { return cmp.Compare(a.ID, b.ID) })
	if len(sampled) > 0 {
		slices.Sort(sampled)
		r.Notes = append(r.Notes, fmt.Sprintf("Run durations of %s are an even sample of %d runs: their percentiles are estimates.",
			strings.Join(sampled, ", "), maxDur))
	}
	return nil
}

func (r *Report) pools(in Input, asOf time.Time) {
	h := in.History
	slots := map[string]int{}
	for _, p := range in.Pools {
		slots[p.Name] = p.Slots
	}
	type dayUse struct {
		total float64
		peak  float64
	}
	// Sum the pipelines' use by hour first: the busiest hour is the
	// pool's, not one pipeline's.
	type poolHour struct {
		pool string
		hour time.Time
	}
	hours := map[poolHour]float64{}
	users := map[string]map[string]float64{} // pool -> pipeline -> slot-seconds
	for _, ph := range h.PoolHours {
		hours[poolHour{ph.Pool, ph.Hour}] += ph.SlotSeconds
		if users[ph.Pool] == nil {
			users[ph.Pool] = map[string]float64{}
		}
		users[ph.Pool][ph.PipelineID] += ph.SlotSeconds
	}
	use := map[string]map[int]*dayUse{}
	for k, secs := range hours {
		if use[k.pool] == nil {
			use[k.pool] = map[int]*dayUse{}
		}
		i := r.dayIndex(k.hour)
		u := use[k.pool][i]
		if u == nil {
			u = &dayUse{}
			use[k.pool][i] = u
		}
		u.total += secs
		u.peak = max(u.peak, secs)
	}
	names := map[string]bool{}
	for _, p := range in.Pools {
		names[p.Name] = true
	}
	for name := range use {
		names[name] = true
	}
	var gone, cut []string
	for name := range names {
		n, exists := slots[name]
		pt := &PoolTrend{Name: name, Slots: n, Exists: exists}
		// The pool's series starts when every pipeline that used it has
		// its whole history: before one's oldest run, the pool's use would
		// be understated (the runs were pruned by a shorter retention, or
		// the pipeline is new) and would fake growth.
		var complete time.Time
		if h.Oldest != nil {
			complete = *h.Oldest
		}
		var latest string
		for id, secs := range users[name] {
			pt.Users = append(pt.Users, PoolUser{Pipeline: id, SlotHours: secs / 3600})
			if t := historyFrom(h, id); t.After(complete) {
				complete, latest = t, id
			}
		}
		slices.SortFunc(pt.Users, func(a, b PoolUser) int {
			return cmp.Or(cmp.Compare(b.SlotHours, a.SlotHours), cmp.Compare(a.Pipeline, b.Pipeline))
		})
		if latest != "" && complete.After(r.From) {
			cut = append(cut, fmt.Sprintf("`%s` from %s (when the history of `%s` starts)", name, complete.Format(time.DateOnly), latest))
		}
		mean, peak := map[int]float64{}, map[int]float64{}
		for i, u := range use[name] {
			pt.SlotHours += u.total / 3600
			if n > 0 {
				mean[i] = u.total / (float64(n) * Day.Seconds())
				peak[i] = u.peak / (float64(n) * time.Hour.Seconds())
			}
		}
		pt.Mean = newSeries(r.countSeries(mean, complete))
		pt.Peak = newSeries(r.countSeries(peak, complete))
		for _, p := range pt.Peak.Points {
			if p.Value >= 0.995 {
				pt.FullDays++
			}
		}
		switch {
		case !exists:
			gone = append(gone, "`"+name+"`")
		case n > 0:
			pt.Full = poolForecast(pt, Cross(pt.Peak.Points, 1, asOf, in.Rules), in.Rules)
		}
		r.Pools = append(r.Pools, pt)
	}
	slices.SortFunc(r.Pools, func(a, b *PoolTrend) int { return cmp.Compare(a.Name, b.Name) })
	if len(cut) > 0 {
		slices.Sort(cut)
		r.Notes = append(r.Notes, "Pools are charted only from when every pipeline that used them has its runs stored, or their use would look like growth: "+
			strings.Join(cut, "; ")+".")
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		r.Notes = append(r.Notes, fmt.Sprintf("Tasks used pools that no longer exist (%s): their use is shown in slot-hours, without utilisation.", strings.Join(gone, ", ")))
	}
}

func (r *Report) volumes(in Input, asOf time.Time) error {
	h := in.History
	type agg struct {
		v               *VolumeTrend
		mean, sum, maxv map[int]float64
	}
	byKey := map[string]*agg{}
	for _, m := range h.Metrics {
		k := m.PipelineID + "." + m.TaskID + "." + m.Name
		a := byKey[k]
		if a == nil {
			a = &agg{v: &VolumeTrend{Pipeline: m.PipelineID, Task: m.TaskID, Metric: m.Name},
				mean: map[int]float64{}, sum: map[int]float64{}, maxv: map[int]float64{}}
			byKey[k] = a
		}
		i := r.dayIndex(m.Day)
		a.v.Count += m.Count
		a.v.Invalid += m.Invalid
		if m.Invalid > 0 {
			a.v.Example = m.Example
		}
		if m.Count > 0 {
			a.mean[i] = m.Sum / float64(m.Count)
			a.sum[i] = m.Sum
			a.maxv[i] = m.Max
		}
	}
	limits := map[string]Threshold{}
	for _, t := range in.Thresholds {
		if byKey[t.Key] == nil {
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			return unknownMetric(t, keys, r.Days)
		}
		limits[t.Key] = t
	}
	var invalid []string
	for k, a := range byKey {
		v := a.v
		v.Mean, v.Sum, v.Max = newSeries(r.sparseSeries(a.mean)), newSeries(r.sparseSeries(a.sum)), newSeries(r.sparseSeries(a.maxv))
		if t, ok := limits[k]; ok {
			limit := t.Value
			v.Threshold = &limit
			v.Forecast = volumeForecast(v, t, Cross(v.Mean.Points, limit, asOf, in.Rules), in.Rules)
		}
		if v.Invalid > 0 {
			invalid = append(invalid, fmt.Sprintf("`%s` wrote %d value(s) of metric.%s that are not numbers (such as %q)", v.Pipeline+"."+v.Task, v.Invalid, v.Metric, truncate(v.Example, 40)))
		}
		r.Volumes = append(r.Volumes, v)
	}
	slices.SortFunc(r.Volumes, func(a, b *VolumeTrend) int { return cmp.Compare(a.Key(), b.Key()) })
	if len(invalid) > 0 {
		slices.Sort(invalid)
		r.Notes = append(r.Notes, strings.Join(invalid, "; ")+": they are left out. A metric value must be a number, such as 1234 or 5.6e6.")
	}
	return nil
}

// Percentile returns the p-th quantile (0 < p ≤ 1) of sorted values by
// the nearest-rank method: the smallest value at least p of the values
// are at or below. 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
