package capacity

import (
	"math"
	"time"
)

// Day is the length of the days series are counted in.
const Day = 24 * time.Hour

// Point is the value of a series on one day.
type Point struct {
	// Day is the start of the day, a UTC midnight.
	Day   time.Time
	Value float64
}

// Fit is the least-squares line through a series' points:
// Value ≈ Intercept + Slope × (days since Origin).
type Fit struct {
	Origin time.Time
	// Slope is the change per day.
	Slope     float64
	Intercept float64
	// R2 is the share of the variance the line explains, from 0 to 1; 1
	// for points that lie on it (a flat series included).
	R2 float64
	// N is the number of points.
	N int
	// T is the slope divided by its standard error: how clearly the data
	// show a slope at all. Above about 2, a slope this big is unlikely to
	// come from noise around a flat line. It is capped at MaxT, and is
	// MaxT for points exactly on a rising line.
	T float64
}

// MaxT caps Fit.T, which is infinite for points exactly on a line (and
// JSON has no infinity).
const MaxT = 1e6

// LinearFit fits a line through points by ordinary least squares. It
// reports false for fewer than two points or points all on one day.
func LinearFit(points []Point) (Fit, bool) {
	n := len(points)
	if n < 2 {
		return Fit{}, false
	}
	origin := points[0].Day
	for _, p := range points {
		if p.Day.Before(origin) {
			origin = p.Day
		}
	}
	var sx, sy float64
	for _, p := range points {
		sx += days(origin, p.Day)
		sy += p.Value
	}
	mx, my := sx/float64(n), sy/float64(n)
	var sxx, sxy, syy float64
	for _, p := range points {
		dx, dy := days(origin, p.Day)-mx, p.Value-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return Fit{}, false
	}
	f := Fit{Origin: origin, N: n, Slope: sxy / sxx}
	f.Intercept = my - f.Slope*mx
	var ssRes float64
	for _, p := range points {
		r := p.Value - f.At(p.Day)
		ssRes += r * r
	}
	// Rounding leaves residues of points exactly on a line; treat what is
	// below 1e-12 of the spread as none.
	if ssRes <= 1e-12*max(syy, my*my, 1e-300) {
		ssRes = 0
	}
	f.R2 = 1
	if syy > 0 {
		f.R2 = max(0, 1-ssRes/syy)
	}
	switch {
	case f.Slope == 0:
		f.T = 0
	case ssRes == 0 || n < 3:
		f.T = math.Copysign(MaxT, f.Slope)
	default:
		se := math.Sqrt(ssRes / float64(n-2) / sxx)
		f.T = max(-MaxT, min(MaxT, f.Slope/se))
	}
	return f, true
}

// At is the line's value on day.
func (f Fit) At(day time.Time) float64 {
	return f.Intercept + f.Slope*days(f.Origin, day)
}

// PerWeek is the slope per week.
func (f Fit) PerWeek() float64 { return f.Slope * 7 }

// days counts the days from origin to t, with fractions.
func days(origin, t time.Time) float64 { return t.Sub(origin).Hours() / 24 }

// Status is the outcome of a forecast.
type Status string

// The statuses of a forecast.
const (
	// StatusInsufficient: too few days with data to fit a trend.
	StatusInsufficient Status = "insufficient"
	// StatusAlready: the limit is reached (the trend is at or past it).
	StatusAlready Status = "already"
	// StatusDate: at this growth the limit is reached on Forecast.Date.
	StatusDate Status = "date"
	// StatusBeyond: growing, but the limit is not reached within the
	// horizon.
	StatusBeyond Status = "beyond"
	// StatusNoGrowth: flat, falling, or rising too little to tell from
	// noise; the limit is not forecast to be reached.
	StatusNoGrowth Status = "no_growth"
)

// Rules bound what a forecast may conclude from the data.
type Rules struct {
	// MinDays is the fewest days with data a forecast is made from;
	// default 7 (DefaultMinDays).
	MinDays int
	// MinT is the least Fit.T that counts as growth; default 2: a rising
	// line fitted to noise around a flat level reaches it about one time
	// in forty.
	MinT float64
	// Horizon is how far ahead a crossing is dated; beyond it the
	// forecast says StatusBeyond. Default two years: a line through a
	// month of data says little about the years after.
	Horizon time.Duration
}

// Defaults of Rules.
const (
	DefaultMinDays = 7
	DefaultMinT    = 2.0
	DefaultHorizon = 730 * Day
)

func (r Rules) withDefaults() Rules {
	if r.MinDays <= 0 {
		r.MinDays = DefaultMinDays
	}
	if r.MinDays < 3 {
		r.MinDays = 3 // a slope's error needs three points
	}
	if r.MinT <= 0 {
		r.MinT = DefaultMinT
	}
	if r.Horizon <= 0 {
		r.Horizon = DefaultHorizon
	}
	return r
}

// Crossing is where a series' trend meets a limit.
type Crossing struct {
	Status Status
	Limit  float64
	// Fit is the trend; nil when there were too few points.
	Fit *Fit
	// N is the number of days with data.
	N int
	// Current is the trend's value on the last day with data (the last
	// point's value when there is no trend).
	Current float64
	// Date is the first day on which the trend is at or above the limit:
	// set for StatusDate, and for StatusAlready when the trend crossed
	// within the data.
	Date *time.Time
	// Days is the number of days from asOf to Date (StatusDate).
	Days int
}

// Cross forecasts when the trend of points first reaches limit, seen from
// asOf (the day after the last complete day). Points must be in day
// order. See Rules for what it refuses to conclude.
func Cross(points []Point, limit float64, asOf time.Time, rules Rules) Crossing {
	rules = rules.withDefaults()
	c := Crossing{Limit: limit, N: len(points)}
	if len(points) > 0 {
		c.Current = points[len(points)-1].Value
	}
	if len(points) < rules.MinDays {
		c.Status = StatusInsufficient
		return c
	}
	f, ok := LinearFit(points)
	if !ok {
		c.Status = StatusInsufficient
		return c
	}
	c.Fit = &f
	last := points[len(points)-1].Day
	c.Current = f.At(last)
	growing := f.Slope > 0 && f.T >= rules.MinT
	var date time.Time // zero: no crossing, or one beyond the horizon
	if f.Slope > 0 {
		// The first whole day at or past the limit; the epsilon keeps a
		// crossing that falls exactly on a day, up to rounding, on it.
		d := math.Ceil((limit-f.Intercept)/f.Slope - 1e-9)
		if d <= days(f.Origin, asOf)+rules.Horizon.Hours()/24 {
			date = f.Origin.Add(time.Duration(d) * Day)
		}
	}
	switch {
	case c.Current >= limit || (growing && !date.IsZero() && date.Before(asOf)):
		c.Status = StatusAlready
		if !date.IsZero() && !date.Before(f.Origin) {
			c.Date = &date
		}
	case !growing:
		c.Status = StatusNoGrowth
	case date.IsZero():
		c.Status = StatusBeyond
	default:
		c.Status = StatusDate
		c.Date = &date
		c.Days = int(date.Sub(asOf) / Day)
	}
	return c
}
