package capacity

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The forecasts in words. Every message names its subject in backticks
// and says what the trend is now, so a reader can judge it.

func poolForecast(p *PoolTrend, c Crossing, rules Rules) *Forecast {
	f := &Forecast{Crossing: c, Subject: "pool " + p.Name, Risk: riskOf(c)}
	name := "`" + p.Name + "`"
	now := fmt.Sprintf("the trend of its busiest hour is at %s", Percent(max(0, c.Current)))
	switch c.Status {
	case StatusInsufficient:
		if c.N == 0 {
			f.Message = fmt.Sprintf("pool %s was not used in this window: nothing to forecast", name)
			f.Risk = RiskNone
		} else {
			f.Message = fmt.Sprintf("not enough history to forecast pool %s: %s with data, need %d", name, plural(c.N, "day"), rules.MinDays)
		}
	case StatusAlready:
		f.Message = fmt.Sprintf("pool %s is full already in its busiest hour: full on %s of the last %s", name,
			strconv.Itoa(min(p.FullDays, len(p.Peak.Points))), plural(len(p.Peak.Points), "day"))
		if p.FullDays == 0 {
			f.Message = fmt.Sprintf("pool %s is full already in its busiest hour: %s", name, now)
		}
	case StatusNoGrowth:
		f.Message = fmt.Sprintf("pool %s is not filling up: %s, not clearly growing", name, now)
	case StatusBeyond:
		f.Message = fmt.Sprintf("at this growth, pool %s is not full within %s: %s, %s a week", name, horizonWords(rules), now, signedPoints(c.Fit.PerWeek()))
	case StatusDate:
		f.Message = fmt.Sprintf("at this growth, pool %s is full from %s: %s and grows %s a week", name, c.Date.Format(time.DateOnly), now, points(c.Fit.PerWeek()))
	}
	return f
}

// overrunForecast tells when p's runs outgrow their interval. oldest is
// the start of p's oldest stored run (nil when it never ran) and to the
// end of the window, to say why a pipeline without successful runs has
// none.
func overrunForecast(p *PipelineTrend, c Crossing, rules Rules, oldest *time.Time, to time.Time) *Forecast {
	f := &Forecast{Crossing: c, Subject: "pipeline " + p.ID, Risk: riskOf(c)}
	name := "`" + p.ID + "`"
	interval := fmt.Sprintf("their schedule interval (%s)", Duration(p.Interval))
	now := "the trend of p95 run time is at " + Duration(seconds(max(0, c.Current)))
	need := fmt.Sprintf("a forecast of its run time needs successful runs on %s", plural(rules.MinDays, "day"))
	switch c.Status {
	case StatusInsufficient:
		switch {
		case p.Runs == 0 && oldest == nil:
			f.Message = fmt.Sprintf("%s has not run yet: no history to forecast from; %s, so come back once its schedule has run it that long", name, need)
		case p.Runs == 0 && !oldest.Before(to):
			f.Message = fmt.Sprintf("%s has run only today, which the report leaves out: no history to forecast from yet; %s, so come back once its schedule has run it that long", name, need)
		case p.Runs == 0:
			f.Message = fmt.Sprintf("%s has no runs in this window: nothing to forecast; its runs are older than the window, so choose a longer one", name)
		case c.N == 0:
			f.Message = fmt.Sprintf("none of the %s of %s in this window succeeded: no run time to forecast from; %s, so see why its runs fail first", plural(p.Runs, "run"), name, need)
		default:
			f.Message = fmt.Sprintf("not enough history to forecast the run time of %s: %s with successful runs, need %d", name, plural(c.N, "day"), rules.MinDays)
		}
	case StatusAlready:
		f.Message = fmt.Sprintf("runs of %s take longer than %s already: %s", name, interval, now)
	case StatusNoGrowth:
		f.Message = fmt.Sprintf("runs of %s are not growing toward %s: %s", name, interval, now)
	case StatusBeyond:
		f.Message = fmt.Sprintf("at this growth, runs of %s stay within %s for more than %s: %s, %s a week", name, interval, horizonWords(rules), now, signedDuration(c.Fit.PerWeek()))
	case StatusDate:
		f.Message = fmt.Sprintf("at this growth, runs of %s take longer than %s from %s: %s and grows %s a week", name, interval, c.Date.Format(time.DateOnly), now, Duration(seconds(c.Fit.PerWeek())))
	}
	return f
}

func volumeForecast(v *VolumeTrend, t Threshold, c Crossing, rules Rules) *Forecast {
	f := &Forecast{Crossing: c, Subject: "metric " + v.Key(), Risk: riskOf(c)}
	name := fmt.Sprintf("metric `%s` of `%s.%s`", v.Metric, v.Pipeline, v.Task)
	now := "the trend of its daily mean is at " + Number(c.Current)
	limit := t.Raw
	switch c.Status {
	case StatusInsufficient:
		f.Message = fmt.Sprintf("not enough history to forecast %s: %s with values, need %d", name, plural(c.N, "day"), rules.MinDays)
	case StatusAlready:
		f.Message = fmt.Sprintf("%s is past %s already: %s", name, limit, now)
	case StatusNoGrowth:
		f.Message = fmt.Sprintf("%s is not growing toward %s: %s", name, limit, now)
	case StatusBeyond:
		f.Message = fmt.Sprintf("at this growth, %s stays below %s for more than %s: %s, %s a week", name, limit, horizonWords(rules), now, signedNumber(c.Fit.PerWeek()))
	case StatusDate:
		f.Message = fmt.Sprintf("at this growth, %s passes %s from %s: %s and grows %s a week", name, limit, c.Date.Format(time.DateOnly), now, Number(c.Fit.PerWeek()))
	}
	return f
}

// horizonWords says how far the rules date a crossing: "2 years".
func horizonWords(rules Rules) string {
	days := int(rules.Horizon / Day)
	if days%365 == 0 {
		if days == 365 {
			return "a year"
		}
		return plural(days/365, "year")
	}
	return plural(days, "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Percent shows a fraction as a whole percentage: 0.623 is "62%".
func Percent(f float64) string { return strconv.Itoa(int(math.Round(f*100))) + "%" }

// points shows a change of a fraction in percentage points.
func points(f float64) string {
	p := f * 100
	if math.Abs(p) >= 10 {
		return fmt.Sprintf("%.0f points", p)
	}
	return fmt.Sprintf("%.1f points", p)
}

func signedPoints(f float64) string {
	if f >= 0 {
		return "+" + points(f)
	}
	return "−" + points(-f)
}

// Duration shows a duration for reading: seconds under a minute, minutes
// under an hour, hours and minutes beyond; "0s" for none.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + Duration(-d)
	case d < time.Second:
		if d == 0 {
			return "0s"
		}
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return strconv.Itoa(m) + "m"
		}
		return fmt.Sprintf("%dm%ds", m, s)
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return strconv.Itoa(h) + "h"
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

func signedDuration(secs float64) string {
	if secs >= 0 {
		return "+" + Duration(seconds(secs))
	}
	return Duration(seconds(secs))
}

// Number shows a number compactly: 950, 12.5k, 3.2M, 1.05G.
func Number(v float64) string {
	if v < 0 {
		return "−" + Number(-v)
	}
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return trimZeros(strconv.FormatFloat(v/u.div, 'f', decimals(v/u.div), 64)) + u.suffix
		}
	}
	return trimZeros(strconv.FormatFloat(v, 'f', decimals(v), 64))
}

func signedNumber(v float64) string {
	if v >= 0 {
		return "+" + Number(v)
	}
	return Number(v)
}

// decimals keeps three significant digits.
func decimals(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	}
	return 2
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
