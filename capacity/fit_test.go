package capacity_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/capacity"
)

var jan1 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return jan1.AddDate(0, 0, n) }

// series returns n daily points from 2026-01-01 with value f(i).
func series(n int, f func(i int) float64) []capacity.Point {
	pts := make([]capacity.Point, n)
	for i := range pts {
		pts[i] = capacity.Point{Day: day(i), Value: f(i)}
	}
	return pts
}

func TestLinearFitExact(t *testing.T) {
	t.Parallel()
	f, ok := capacity.LinearFit(series(10, func(i int) float64 { return 3 + 0.5*float64(i) }))
	if !ok {
		t.Fatal("no fit")
	}
	if math.Abs(f.Slope-0.5) > 1e-12 || math.Abs(f.Intercept-3) > 1e-12 || f.R2 != 1 || f.N != 10 || f.T != capacity.MaxT {
		t.Errorf("fit = %+v, want slope 0.5, intercept 3, r² 1, n 10, t MaxT", f)
	}
	if got := f.At(day(20)); math.Abs(got-13) > 1e-9 {
		t.Errorf("At(day 20) = %v, want 13", got)
	}
	if _, ok := capacity.LinearFit(series(1, func(int) float64 { return 1 })); ok {
		t.Error("fitted one point")
	}
	if _, ok := capacity.LinearFit([]capacity.Point{{Day: jan1, Value: 1}, {Day: jan1, Value: 2}}); ok {
		t.Error("fitted two points on one day")
	}
}

// TestCross checks forecasts on synthetic histories whose answer is
// known: the line is written so that it reaches the limit on a day that
// can be worked out by hand.
func TestCross(t *testing.T) {
	t.Parallel()
	noise := rand.New(rand.NewPCG(1, 2))
	jitter := func(amp float64) float64 { return (noise.Float64()*2 - 1) * amp }
	asOf := day(30) // 30 days of data: 2026-01-01 to 2026-01-30
	tests := []struct {
		name   string
		points []capacity.Point
		limit  float64
		status capacity.Status
		// date is the known crossing; slack the days it may be off by.
		date  time.Time
		slack int
	}{
		{
			// 50% on 2026-01-01 rising 1 point a day: 100% after 50 days.
			name:   "rising",
			points: series(30, func(i int) float64 { return 0.50 + 0.01*float64(i) }),
			limit:  1, status: capacity.StatusDate, date: day(50),
		},
		{
			name:   "flat",
			points: series(30, func(int) float64 { return 0.6 }),
			limit:  1, status: capacity.StatusNoGrowth,
		},
		{
			name:   "falling",
			points: series(30, func(i int) float64 { return 0.9 - 0.01*float64(i) }),
			limit:  1, status: capacity.StatusNoGrowth,
		},
		{
			// The same line with ±3 points of noise: within a day.
			name:   "noisy but linear",
			points: series(30, func(i int) float64 { return 0.50 + 0.01*float64(i) + jitter(0.03) }),
			limit:  1, status: capacity.StatusDate, date: day(50), slack: 1,
		},
		{
			// Noise around a flat level, with a slope too small to tell
			// from it: no date, however far.
			name:   "noise around flat",
			points: series(30, func(i int) float64 { return 0.5 + 0.0003*float64(i) + jitter(0.1) }),
			limit:  1, status: capacity.StatusNoGrowth,
		},
		{
			name:   "too little data",
			points: series(6, func(i int) float64 { return 0.50 + 0.01*float64(i) }),
			limit:  1, status: capacity.StatusInsufficient,
		},
		{
			// 90% rising 1 point a day crossed 100% on day 10.
			name:   "already",
			points: series(30, func(i int) float64 { return 0.90 + 0.01*float64(i) }),
			limit:  1, status: capacity.StatusAlready, date: day(10),
		},
		{
			// Flat above the limit: already, with no crossing date.
			name:   "flat above",
			points: series(30, func(int) float64 { return 1.2 }),
			limit:  1, status: capacity.StatusAlready,
		},
		{
			// 10% rising 0.01 point a day: 100% after 9,000 days.
			name:   "beyond the horizon",
			points: series(30, func(i int) float64 { return 0.1 + 0.0001*float64(i) }),
			limit:  1, status: capacity.StatusBeyond,
		},
		{
			// p95 run time of 30m growing 1m a day, against a 1h
			// interval: 60m after 30 days, on 2026-01-31 — the day after
			// the data, which is today.
			name:   "run time reaches the interval today",
			points: series(30, func(i int) float64 { return 1800 + 60*float64(i) }),
			limit:  3600, status: capacity.StatusDate, date: day(30),
		},
		{
			// Days missing in the series (no successful run) change
			// nothing for a line.
			name: "gaps",
			points: func() []capacity.Point {
				var pts []capacity.Point
				for i := 0; i < 30; i += 3 {
					pts = append(pts, capacity.Point{Day: day(i), Value: 100 + 20*float64(i)})
				}
				return pts
			}(),
			limit: 1000, status: capacity.StatusDate, date: day(45),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := capacity.Cross(tc.points, tc.limit, asOf, capacity.Rules{})
			if c.Status != tc.status {
				t.Fatalf("status %s, want %s (crossing %+v, fit %+v)", c.Status, tc.status, c, c.Fit)
			}
			switch {
			case tc.date.IsZero() && c.Date != nil:
				t.Errorf("date %s, want none", c.Date.Format(time.DateOnly))
			case !tc.date.IsZero() && c.Date == nil:
				t.Errorf("no date, want %s", tc.date.Format(time.DateOnly))
			case !tc.date.IsZero():
				off := math.Abs(c.Date.Sub(tc.date).Hours() / 24)
				if off > float64(tc.slack) {
					t.Errorf("date %s, want %s (± %d days)", c.Date.Format(time.DateOnly), tc.date.Format(time.DateOnly), tc.slack)
				}
				if tc.status == capacity.StatusDate && c.Days != int(c.Date.Sub(asOf)/capacity.Day) {
					t.Errorf("days %d for date %s", c.Days, c.Date.Format(time.DateOnly))
				}
			}
		})
	}
}

func TestCrossRules(t *testing.T) {
	t.Parallel()
	pts := series(4, func(i int) float64 { return 0.5 + 0.1*float64(i) })
	if c := capacity.Cross(pts, 1, day(4), capacity.Rules{}); c.Status != capacity.StatusInsufficient || c.N != 4 {
		t.Errorf("4 days by default: %+v", c)
	}
	c := capacity.Cross(pts, 1, day(4), capacity.Rules{MinDays: 3})
	if c.Status != capacity.StatusDate || !c.Date.Equal(day(5)) || c.Days != 1 {
		t.Errorf("4 days with MinDays 3: %+v", c)
	}
	// 9,000 days away is within a horizon of 30 years.
	slow := series(30, func(i int) float64 { return 0.1 + 0.0001*float64(i) })
	c = capacity.Cross(slow, 1, day(30), capacity.Rules{Horizon: 30 * 365 * capacity.Day})
	if c.Status != capacity.StatusDate || !c.Date.Equal(day(9000)) {
		t.Errorf("long horizon: %+v", c)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	vals := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	for _, tc := range []struct {
		p    float64
		want float64
	}{{0.5, 10}, {0.95, 19}, {1, 20}, {0.01, 1}} {
		if got := capacity.Percentile(vals, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p*100, got, tc.want)
		}
	}
	if capacity.Percentile([]float64{7}, 0.95) != 7 || capacity.Percentile(nil, 0.5) != 0 {
		t.Error("percentile of one value or none")
	}
}

func TestInterval(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC) // a Friday
	for _, tc := range []struct {
		schedule string
		want     time.Duration
	}{
		{"@every 90m", 90 * time.Minute},
		{"@hourly", time.Hour},
		{"@daily", 24 * time.Hour},
		{"0 3 * * *", 24 * time.Hour},
		{"*/15 * * * *", 15 * time.Minute},
		// Weekdays only: the gap over a weekend is longer, the shortest 24h.
		{"0 3 * * 1-5", 24 * time.Hour},
		// Twice a day at uneven hours: the shorter gap.
		{"0 1,5 * * *", 4 * time.Hour},
		{"@weekly", 7 * 24 * time.Hour},
	} {
		got, err := capacity.Interval(tc.schedule, from)
		if err != nil || got != tc.want {
			t.Errorf("Interval(%q) = %v, %v; want %v", tc.schedule, got, err, tc.want)
		}
	}
	if _, err := capacity.Interval("not a schedule", from); err == nil {
		t.Error("no error for a bad schedule")
	}
}

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		key   string
		value float64
		err   string
	}{
		{in: "daily_orders.load.rows=5000000", key: "daily_orders.load.rows", value: 5e6},
		{in: "daily_orders.load.rows=5M", key: "daily_orders.load.rows", value: 5e6},
		{in: "eu.orders.load.bytes=1.5G", key: "eu.orders.load.bytes", value: 1.5e9},
		{in: "p.t.m = 2.5k", key: "p.t.m", value: 2500},
		{in: "p.t.m=1e3", key: "p.t.m", value: 1000},
		{in: "p.t.m", err: "want pipeline.task.metric=value"},
		{in: "p.rows=5", err: "pipeline.task.metric"},
		{in: "p.t.m=lots", err: `"lots" is not a number`},
		{in: "p.t.m=NaN", err: "is not a number"},
	} {
		th, err := capacity.ParseThreshold(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseThreshold(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || th.Key != tc.key || math.Abs(th.Value-tc.value) > 1e-6 {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %s=%v", tc.in, th, err, tc.key, tc.value)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{capacity.Number(950), "950"},
		{capacity.Number(12500), "12.5k"},
		{capacity.Number(3_240_000), "3.24M"},
		{capacity.Number(5_000_000), "5M"},
		{capacity.Number(1.5), "1.5"},
		{capacity.Number(-2000), "−2k"},
		{capacity.Percent(0.623), "62%"},
		{capacity.Duration(41 * time.Minute), "41m"},
		{capacity.Duration(41*time.Minute + 30*time.Second), "41m30s"},
		{capacity.Duration(72 * time.Minute), "1h12m"},
		{capacity.Duration(2 * time.Hour), "2h"},
		{capacity.Duration(42 * time.Second), "42s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
