package web

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/capacity"
)

// A line chart of daily series, drawn on the server as inline SVG: the
// days of the window, then a shaded stretch of the future where the
// dashed trend line runs on to meet the limit line. Everything it shows
// is also said in the text around it; the chart is for the eye.

// Chart geometry, in SVG user units: the SVG scales to its box's width,
// so on a phone the labels shrink in proportion; 400 keeps them readable
// at a phone's width.
const (
	chartW     = 400.0
	chartH     = 170.0
	chartLeft  = 46.0
	chartRight = 10.0
	chartTop   = 12.0
	chartBot   = 22.0
)

// chartView is a drawn chart.
type chartView struct {
	W, H float64
	// Label describes the chart for screen readers.
	Label string
	// X0, X1, Y0, Y1 bound the plot (Y0 is the top); PlotH is its height.
	X0, X1, Y0, Y1, PlotH float64
	// FutureX is where the future begins; FutureW its width (0: none).
	FutureX, FutureW float64
	Lines            []chartLine
	// Trend is the dashed trend line's path; empty without one.
	Trend string
	Limit *chartRule
	// Cross marks where the trend meets the limit.
	Cross  *chartMark
	YTicks []chartTick
	XTicks []chartTick
}

type chartLine struct {
	Class, Name string
	D           string
	Dots        []chartMark
}

type chartRule struct {
	Y     float64
	Label string
}

type chartMark struct {
	X, Y  float64
	Label string
}

type chartTick struct {
	X, Y   float64
	Label  string
	Anchor string
}

// chartSeries is one series to draw.
type chartSeries struct {
	Class, Name string
	Points      []capacity.Point
}

// chartSpec says what to draw.
type chartSpec struct {
	From, To time.Time
	Label    string
	Series   []chartSeries
	// Trend is drawn dashed from its first point's day on.
	Trend *capacity.Fit
	// Limit, when set, is drawn as a line labelled LimitLabel.
	Limit      *float64
	LimitLabel string
	// Cross is where the trend meets the limit, if it does.
	Cross *time.Time
	// Unit formats the y axis: "fraction", "seconds" or "number".
	Unit string
}

// buildChart lays a chart out.
func buildChart(s chartSpec) *chartView {
	c := &chartView{W: chartW, H: chartH, Label: s.Label, X0: chartLeft, X1: chartW - chartRight, Y0: chartTop, Y1: chartH - chartBot}
	window := s.To.Sub(s.From)
	ahead := max(7*capacity.Day, window/2)
	if s.Cross != nil && s.Cross.After(s.To) && s.Cross.Sub(s.To) < 2*window {
		ahead = max(ahead, s.Cross.Sub(s.To)+3*capacity.Day)
	}
	end := s.To.Add(ahead)
	if s.Trend == nil && s.Limit == nil {
		end = s.To
	}
	xOf := func(t time.Time) float64 {
		return c.X0 + (c.X1-c.X0)*t.Sub(s.From).Hours()/end.Sub(s.From).Hours()
	}
	mid := func(day time.Time) time.Time { return day.Add(12 * time.Hour) }

	// The y range: every point, the limit, and the trend where it is shown
	// (within reason: a steep trend leaves the top, clipped).
	top := 0.0
	for _, sr := range s.Series {
		for _, p := range sr.Points {
			top = max(top, p.Value)
		}
	}
	if s.Limit != nil {
		top = max(top, *s.Limit)
	}
	if s.Trend != nil {
		top = max(top, min(s.Trend.At(end), top*1.5))
	}
	if s.Unit == "fraction" {
		top = max(top, 1)
	}
	ticks := niceTicks(top, s.Unit)
	top = ticks[len(ticks)-1]
	yOf := func(v float64) float64 { return c.Y1 - (c.Y1-c.Y0)*v/top }
	for _, v := range ticks {
		c.YTicks = append(c.YTicks, chartTick{X: c.X0 - 6, Y: yOf(v), Label: formatValue(v, s.Unit), Anchor: "end"})
	}

	if end.After(s.To) {
		c.FutureX, c.FutureW = xOf(s.To), xOf(end)-xOf(s.To)
	}
	c.XTicks = []chartTick{{X: xOf(s.From), Y: c.Y1 + 15, Label: s.From.Format("Jan 2"), Anchor: "start"}}
	if end.After(s.To) {
		c.XTicks = append(c.XTicks, chartTick{X: xOf(s.To), Y: c.Y1 + 15, Label: "today", Anchor: "middle"},
			chartTick{X: xOf(end), Y: c.Y1 + 15, Label: end.Format("Jan 2"), Anchor: "end"})
	} else {
		c.XTicks = append(c.XTicks, chartTick{X: xOf(s.To), Y: c.Y1 + 15, Label: "today", Anchor: "end"})
	}

	for _, sr := range s.Series {
		line := chartLine{Class: sr.Class, Name: sr.Name}
		var d strings.Builder
		var prev time.Time
		for i, p := range sr.Points {
			x, y := xOf(mid(p.Day)), yOf(p.Value)
			// A day without a value breaks the line.
			if i == 0 || p.Day.Sub(prev) > capacity.Day {
				fmt.Fprintf(&d, "M%.1f %.1f", x, y)
			} else {
				fmt.Fprintf(&d, "L%.1f %.1f", x, y)
			}
			prev = p.Day
			if len(sr.Points) <= 45 {
				line.Dots = append(line.Dots, chartMark{X: x, Y: y})
			}
		}
		line.D = d.String()
		c.Lines = append(c.Lines, line)
	}

	if s.Limit != nil {
		c.Limit = &chartRule{Y: yOf(*s.Limit), Label: s.LimitLabel}
	}
	if s.Trend != nil {
		// From the trend's first day to the end, clipped to the plot.
		t0, t1 := mid(s.Trend.Origin), end
		v0, v1 := s.Trend.At(t0), s.Trend.At(t1)
		if x0, y0, x1, y1, ok := clipSegment(xOf(t0), v0, xOf(t1), v1, 0, top); ok {
			c.Trend = fmt.Sprintf("M%.1f %.1fL%.1f %.1f", x0, yOf(y0), x1, yOf(y1))
		}
	}
	if s.Cross != nil && s.Limit != nil && !s.Cross.After(end) && !s.Cross.Before(s.From) {
		c.Cross = &chartMark{X: xOf(*s.Cross), Y: yOf(*s.Limit), Label: s.Cross.Format("Jan 2")}
	}
	c.round()
	return c
}

// round rounds the chart's numbers to tenths, which is all an SVG needs
// and keeps the page small.
func (c *chartView) round() {
	r := func(v *float64) { *v = math.Round(*v*10) / 10 }
	for _, v := range []*float64{&c.X0, &c.X1, &c.Y0, &c.Y1, &c.FutureX, &c.FutureW} {
		r(v)
	}
	c.PlotH = math.Round((c.Y1-c.Y0)*10) / 10
	for i := range c.Lines {
		for j := range c.Lines[i].Dots {
			r(&c.Lines[i].Dots[j].X)
			r(&c.Lines[i].Dots[j].Y)
		}
	}
	for _, ts := range [][]chartTick{c.YTicks, c.XTicks} {
		for i := range ts {
			r(&ts[i].X)
			r(&ts[i].Y)
		}
	}
	if c.Limit != nil {
		r(&c.Limit.Y)
	}
	if c.Cross != nil {
		r(&c.Cross.X)
		r(&c.Cross.Y)
	}
}

// clipSegment clips the segment from (x0, v0) to (x1, v1) to values in
// [lo, hi]; ok is false when nothing of it is left.
func clipSegment(x0, v0, x1, v1, lo, hi float64) (float64, float64, float64, float64, bool) {
	if v0 == v1 {
		return x0, v0, x1, v1, v0 >= lo && v0 <= hi
	}
	// The part of the segment, as a fraction from 0 to 1, within bounds.
	a, b := (lo-v0)/(v1-v0), (hi-v0)/(v1-v0)
	t0, t1 := max(0, min(a, b)), min(1, max(a, b))
	if t0 >= t1 {
		return 0, 0, 0, 0, false
	}
	at := func(t float64) (float64, float64) { return x0 + (x1-x0)*t, v0 + (v1-v0)*t }
	xa, va := at(t0)
	xb, vb := at(t1)
	return xa, va, xb, vb, true
}

// niceTicks returns 0 and up to four round values covering top.
func niceTicks(top float64, unit string) []float64 {
	if top <= 0 {
		top = 1
	}
	var steps []float64
	switch unit {
	case "fraction":
		steps = []float64{0.05, 0.1, 0.25, 0.5, 1}
	case "seconds":
		steps = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800}
	}
	step := 0.0
	for _, s := range steps {
		if top/s <= 4 {
			step = s
			break
		}
	}
	if step == 0 {
		mag := math.Pow(10, math.Floor(math.Log10(top/4)))
		for _, m := range []float64{1, 2, 2.5, 5, 10} {
			if top/(m*mag) <= 4 {
				step = m * mag
				break
			}
		}
	}
	var ticks []float64
	for v := 0.0; ; v += step {
		ticks = append(ticks, v)
		if v >= top-1e-9 {
			break
		}
	}
	return ticks
}

// formatValue shows a value in its unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "fraction":
		return capacity.Percent(v)
	case "seconds":
		return capacity.Duration(time.Duration(v * float64(time.Second)))
	}
	return capacity.Number(v)
}
