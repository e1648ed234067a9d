package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/capacity"
)

// Capacity is the capacity report of GET /api/v1/capacity: daily series
// of the last days with their trends, and forecasts of when limits are
// reached. See package capacity for how each figure is measured.
type Capacity struct {
	From time.Time `json:"from" doc:"start of the window, a UTC midnight"`
	To   time.Time `json:"to" doc:"end of the window: the UTC midnight that starts today, which is left out because it is not over"`
	Days int       `json:"days"`
	// HistoryFrom is the start of the oldest run stored.
	HistoryFrom *time.Time `json:"history_from" doc:"start of the oldest run stored; null when none is. Later than from when retention pruned older runs: the report then covers fewer days"`
	// Forecasts are every forecast of the report, most urgent first.
	Forecasts []CapacityForecast `json:"forecasts" doc:"every forecast of the report, most urgent first"`
	Pipelines []CapacityPipeline `json:"pipelines"`
	Pools     []CapacityPool     `json:"pools"`
	Volumes   []CapacityVolume   `json:"volumes"`
	Notes     []string           `json:"notes" doc:"what limits the report: missing history, sampled durations, metric values that are not numbers"`
}

// CapacityForecast says when a series' trend reaches a limit.
type CapacityForecast struct {
	Subject string `json:"subject" doc:"what it is about: pool warehouse, pipeline daily_orders, metric daily_orders.load.rows"`
	Status  string `json:"status" enum:"insufficient,already,date,beyond,no_growth" doc:"insufficient: too few days with data; already: at or past the limit; date: reached on date at this growth; beyond: not within two years; no_growth: flat, falling or too noisy to tell"`
	Risk    string `json:"risk" enum:"high,medium,low,none,unknown" doc:"high: reached, or within 30 days; medium: within 90 days; low: later; none: not growing; unknown: too little data"`
	Message string `json:"message" doc:"the forecast in a sentence, names in backticks, such as: at this growth, pool 'warehouse' is full from 2027-02-10"`
	// Date is the first day on which the trend is at or past the limit.
	Date *time.Time `json:"date" doc:"the first day (UTC midnight) the trend is at or past the limit: for date, and for already when the trend crossed within the window; null otherwise"`
	Days *int       `json:"days" doc:"days from today to date, for status date"`
	// Limit and Current are in the series' unit.
	Limit        float64        `json:"limit" doc:"the limit, in the series' unit: 1 for a pool's utilisation, seconds for run time"`
	Current      float64        `json:"current" doc:"the trend's value on the last day with data"`
	DaysWithData int            `json:"days_with_data"`
	Trend        *CapacityTrend `json:"trend" doc:"the fitted line; null with too few days"`
}

// CapacityTrend is a least-squares line through a daily series.
type CapacityTrend struct {
	Origin       time.Time `json:"origin" doc:"the day the line is counted from"`
	Intercept    float64   `json:"intercept" doc:"the line's value on origin"`
	SlopePerDay  float64   `json:"slope_per_day"`
	SlopePerWeek float64   `json:"slope_per_week"`
	R2           float64   `json:"r2" doc:"share of the variance the line explains, 0 to 1"`
	N            int       `json:"n" doc:"days with data"`
	T            float64   `json:"t" doc:"the slope divided by its standard error; growth counts from 2"`
}

// CapacitySeries is a daily series with its trend.
type CapacitySeries struct {
	Points []CapacityPoint `json:"points"`
	Trend  *CapacityTrend  `json:"trend" doc:"null with fewer than two points"`
}

// CapacityPoint is the value of one day.
type CapacityPoint struct {
	Day   time.Time `json:"day" doc:"the day's UTC midnight"`
	Value float64   `json:"value"`
}

// CapacityPipeline is a pipeline's history and forecast.
type CapacityPipeline struct {
	ID       string `json:"id"`
	Schedule string `json:"schedule" doc:"empty for a pipeline without a schedule"`
	// IntervalSeconds is the shortest gap between the schedule's fires.
	IntervalSeconds *float64       `json:"interval_seconds" doc:"the shortest gap between the schedule's next fire times; null without a schedule"`
	Runs            int            `json:"runs" doc:"runs that started in the window"`
	Succeeded       int            `json:"succeeded"`
	Failed          int            `json:"failed"`
	RunsPerDay      CapacitySeries `json:"runs_per_day"`
	P50Seconds      CapacitySeries `json:"p50_seconds" doc:"median run time of each day's successful runs"`
	P95Seconds      CapacitySeries `json:"p95_seconds" doc:"95th percentile run time of each day's successful runs"`
	Sampled         bool           `json:"sampled" doc:"the run times are an even sample: too many runs to read them all"`
	// Overrun forecasts when p95 passes the interval.
	Overrun *CapacityForecast `json:"overrun" doc:"when p95 run time passes the schedule interval; null without a schedule"`
}

// CapacityPool is a pool's use and forecast.
type CapacityPool struct {
	Name      string  `json:"name"`
	Slots     int     `json:"slots" doc:"the pool's slots now, which utilisation is measured against; 0 for a pool that no longer exists"`
	Exists    bool    `json:"exists"`
	SlotHours float64 `json:"slot_hours" doc:"slot-hours used in the window"`
	// Utilisation is each day's mean, PeakUtilisation its busiest hour's.
	Utilisation     CapacitySeries     `json:"utilisation" doc:"each day's slot-seconds used ÷ (slots × 86400), 0 to 1"`
	PeakUtilisation CapacitySeries     `json:"peak_utilisation" doc:"each day's busiest hour: slot-seconds used in it ÷ (slots × 3600), 0 to 1; the forecast is made on it"`
	Users           []CapacityPoolUser `json:"users" doc:"the pipelines that used the pool in the window, most first"`
	FullDays        int                `json:"full_days" doc:"days whose busiest hour was full"`
	Full            *CapacityForecast  `json:"full" doc:"when the busiest hour reaches 100%; null for a pool with no slots or that no longer exists"`
}

// CapacityPoolUser is a pipeline's share of a pool's use.
type CapacityPoolUser struct {
	Pipeline  string  `json:"pipeline"`
	SlotHours float64 `json:"slot_hours"`
}

// CapacityVolume is a metric a task reports with metric.<name>=<number>.
type CapacityVolume struct {
	Key      string         `json:"key" doc:"pipeline.task.metric, as thresholds name it"`
	Pipeline string         `json:"pipeline"`
	Task     string         `json:"task"`
	Metric   string         `json:"metric"`
	Count    int            `json:"count" doc:"numeric values in the window"`
	Invalid  int            `json:"invalid" doc:"values that were not numbers, left out"`
	Mean     CapacitySeries `json:"mean" doc:"each day's mean value: what a threshold is compared with"`
	Sum      CapacitySeries `json:"sum"`
	Max      CapacitySeries `json:"max"`
	// Threshold and Forecast are set when the request gave a threshold.
	Threshold *float64          `json:"threshold"`
	Forecast  *CapacityForecast `json:"forecast" doc:"when the daily mean passes the threshold; null without one"`
}

func (a *API) capacity(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	days, err := queryInt(q.Get("days"), "days", capacity.DefaultDays)
	if err != nil {
		return err
	}
	if days > capacity.MaxDays {
		return sluice.Errorf(sluice.EBADREQUEST, "days=%d: want at most %d", days, capacity.MaxDays)
	}
	o := capacity.Options{Days: int(days), Now: a.clock.Now(), PipelineID: q.Get("pipeline")}
	for _, s := range q["threshold"] {
		th, err := capacity.ParseThreshold(s)
		if err != nil {
			return sluice.Errorf(sluice.EBADREQUEST, "%s", err.Error())
		}
		o.Thresholds = append(o.Thresholds, th)
	}
	rep, err := capacity.Load(r.Context(), a.st, o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, capacityOut(rep))
	return nil
}

func capacityOut(r *capacity.Report) Capacity {
	out := Capacity{From: r.From, To: r.To, Days: r.Days, HistoryFrom: utcPtr(r.Oldest),
		Forecasts: []CapacityForecast{}, Pipelines: []CapacityPipeline{}, Pools: []CapacityPool{}, Volumes: []CapacityVolume{}, Notes: r.Notes}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	for _, f := range r.Forecasts() {
		out.Forecasts = append(out.Forecasts, *forecastOut(f))
	}
	for _, p := range r.Pipelines {
		cp := CapacityPipeline{ID: p.ID, Schedule: p.Schedule, Runs: p.Runs, Succeeded: p.Succeeded, Failed: p.Failed,
			RunsPerDay: seriesOut(p.RunsPerDay), P50Seconds: seriesOut(p.P50), P95Seconds: seriesOut(p.P95), Sampled: p.Sampled, Overrun: forecastOut(p.Overrun)}
		if p.Interval > 0 {
			s := p.Interval.Seconds()
			cp.IntervalSeconds = &s
		}
		out.Pipelines = append(out.Pipelines, cp)
	}
	for _, p := range r.Pools {
		cp := CapacityPool{Name: p.Name, Slots: p.Slots, Exists: p.Exists, SlotHours: p.SlotHours, Users: []CapacityPoolUser{},
			Utilisation: seriesOut(p.Mean), PeakUtilisation: seriesOut(p.Peak), FullDays: p.FullDays, Full: forecastOut(p.Full)}
		for _, u := range p.Users {
			cp.Users = append(cp.Users, CapacityPoolUser{Pipeline: u.Pipeline, SlotHours: u.SlotHours})
		}
		out.Pools = append(out.Pools, cp)
	}
	for _, v := range r.Volumes {
		out.Volumes = append(out.Volumes, CapacityVolume{Key: v.Key(), Pipeline: v.Pipeline, Task: v.Task, Metric: v.Metric, Count: v.Count, Invalid: v.Invalid,
			Mean: seriesOut(v.Mean), Sum: seriesOut(v.Sum), Max: seriesOut(v.Max), Threshold: v.Threshold, Forecast: forecastOut(v.Forecast)})
	}
	return out
}

func forecastOut(f *capacity.Forecast) *CapacityForecast {
	if f == nil {
		return nil
	}
	out := &CapacityForecast{Subject: f.Subject, Status: string(f.Status), Risk: f.Risk, Message: f.Message,
		Date: utcPtr(f.Date), Limit: f.Limit, Current: f.Current, DaysWithData: f.N, Trend: trendOut(f.Fit)}
	if f.Status == capacity.StatusDate {
		days := f.Days
		out.Days = &days
	}
	return out
}

func trendOut(f *capacity.Fit) *CapacityTrend {
	if f == nil {
		return nil
	}
	return &CapacityTrend{Origin: f.Origin.UTC(), Intercept: f.Intercept, SlopePerDay: f.Slope, SlopePerWeek: f.PerWeek(), R2: f.R2, N: f.N, T: f.T}
}

func seriesOut(s capacity.Series) CapacitySeries {
	out := CapacitySeries{Points: make([]CapacityPoint, 0, len(s.Points)), Trend: trendOut(s.Fit)}
	for _, p := range s.Points {
		out.Points = append(out.Points, CapacityPoint{Day: p.Day.UTC(), Value: p.Value})
	}
	return out
}
