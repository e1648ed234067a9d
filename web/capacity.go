package web

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/capacity"
)

// The capacity page: the forecasts of package capacity in words, and a
// card with a chart for each pool, pipeline and reported volume. Risk is
// told in words (a label and the sentence) as well as by colour.

// capacityDayChoices are the windows the page offers.
var capacityDayChoices = []int{7, 14, 28, 56, 90}

type capacityData struct {
	Days       int
	DayChoices []int
	Pipeline   string
	Pipelines  []string
	// Threshold is the thresholds field as typed.
	Threshold string
	// Problem says what was wrong with the thresholds; the report is then
	// shown without them.
	Problem    string
	From, Last time.Time
	Empty      bool
	Forecasts  []*forecastView
	// Attention counts the forecasts of high or medium risk.
	Attention int
	Pools     []*capacityCard
	Pipes     []*capacityCard
	Volumes   []*capacityCard
	Notes     [][]msgPart
	// Example is a volume's key, for the thresholds field's hint.
	Example string
}

// forecastView is a forecast as the page shows it.
type forecastView struct {
	Risk string
	// Label is the risk in words: "Limit reached", "Within 30 days" …
	Label   string
	Message []msgPart
	// Href links to the card the forecast is about.
	Href string
}

// msgPart is a piece of a message: names (in backticks in the text) are
// shown as code.
type msgPart struct {
	Text string
	Code bool
}

// capacityCard is a pool, pipeline or volume with its chart.
type capacityCard struct {
	Anchor   string
	Kind     string
	Name     string
	Sub      string
	Forecast *forecastView
	// Hint says what would give the card a forecast.
	Hint   string
	Chart  *chartView
	Legend []legendItem
	Facts  []fact
}

type legendItem struct{ Class, Label string }

type fact struct{ Label, Value string }

func (w *Web) capacityPage(rw http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := &capacityData{Days: capacity.DefaultDays, Pipeline: q.Get("pipeline"), Threshold: strings.TrimSpace(q.Get("threshold"))}
	if s := q.Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > capacity.MaxDays {
			return sluice.Errorf(sluice.EBADREQUEST, "days=%q: want a number of days from 1 to %d", s, capacity.MaxDays)
		}
		d.Days = n
	}
	d.DayChoices = capacityDayChoices
	if !slices.Contains(d.DayChoices, d.Days) {
		d.DayChoices = append(slices.Clone(d.DayChoices), d.Days)
		slices.Sort(d.DayChoices)
	}
	o := capacity.Options{Days: d.Days, Now: w.clock.Now(), PipelineID: d.Pipeline}
	for _, s := range strings.FieldsFunc(d.Threshold, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		th, err := capacity.ParseThreshold(s)
		if err != nil {
			d.Problem = err.Error()
			o.Thresholds = nil
			break
		}
		o.Thresholds = append(o.Thresholds, th)
	}
	rep, err := capacity.Load(r.Context(), w.st, o)
	if err != nil && len(o.Thresholds) > 0 && sluice.ErrorCode(err) == sluice.EINVALID {
		// A threshold of a metric nobody reports: say so, show the rest.
		d.Problem = err.Error()
		o.Thresholds = nil
		rep, err = capacity.Load(r.Context(), w.st, o)
	}
	if err != nil {
		return err
	}
	list, err := w.st.PipelineList(r.Context())
	if err != nil {
		return err
	}
	for _, p := range list {
		d.Pipelines = append(d.Pipelines, p.ID)
	}
	fillCapacity(d, rep)
	return w.render(rw, http.StatusOK, "capacity", w.newView(r, "Capacity", "capacity", d))
}

// fillCapacity turns a report into the page's cards.
func fillCapacity(d *capacityData, rep *capacity.Report) {
	d.From, d.Last = rep.From, rep.To.AddDate(0, 0, -1)
	d.Empty = len(rep.Pipelines)+len(rep.Pools)+len(rep.Volumes) == 0
	for _, n := range rep.Notes {
		d.Notes = append(d.Notes, msgParts(n))
	}
	href := map[*capacity.Forecast]string{}
	for _, p := range rep.Pools {
		c := &capacityCard{Anchor: "pool-" + p.Name, Kind: "pool", Name: p.Name}
		switch {
		case !p.Exists:
			c.Sub = "deleted"
		default:
			c.Sub = fmt.Sprintf("%d %s", p.Slots, pluralWord(p.Slots, "slot", "slots"))
		}
		c.Forecast = forecastOf(p.Full)
		href[p.Full] = "#" + c.Anchor
		c.Facts = []fact{
			{"Busiest hour", lastPercent(p.Peak)},
			{"Daily mean", lastPercent(p.Mean)},
			{"Trend", trendText(p.Peak, "fraction")},
			{"Full days", strconv.Itoa(p.FullDays)},
			{"Slot-hours", capacity.Number(p.SlotHours)},
		}
		if u := usersText(p); u != "" {
			c.Facts = append(c.Facts, fact{"Used by", u})
		}
		if p.Slots > 0 {
			limit := 1.0
			c.Chart = buildChart(chartSpec{From: rep.From, To: rep.To, Unit: "fraction",
				Label:  fmt.Sprintf("Utilisation of pool %s by day over %d days: busiest hour and daily mean, with the trend and the 100%% limit", p.Name, rep.Days),
				Series: []chartSeries{{Class: "s2", Name: "daily mean", Points: p.Mean.Points}, {Class: "s1", Name: "busiest hour", Points: p.Peak.Points}},
				Trend:  fitOf(p.Full, p.Peak.Fit), Limit: &limit, LimitLabel: "full", Cross: crossOf(p.Full)})
			c.Legend = []legendItem{{"s1", "busiest hour"}, {"s2", "daily mean"}, {"trend", "trend"}, {"limit", "100%"}}
		}
		d.Pools = append(d.Pools, c)
	}
	for _, p := range rep.Pipelines {
		c := &capacityCard{Anchor: "pipeline-" + p.ID, Kind: "pipeline", Name: p.ID, Sub: "no schedule"}
		if p.Schedule != "" {
			c.Sub = p.Schedule
			if p.Interval > 0 {
				c.Sub += " · every " + capacity.Duration(p.Interval)
			}
		}
		c.Forecast = forecastOf(p.Overrun)
		href[p.Overrun] = "#" + c.Anchor
		runs := fmt.Sprintf("%d", p.Runs)
		if p.Failed > 0 {
			runs += fmt.Sprintf(" (%d failed)", p.Failed)
		}
		c.Facts = []fact{
			{"p95", lastDuration(p.P95)},
			{"p50", lastDuration(p.P50)},
			{"p95 trend", trendText(p.P95, "seconds")},
			{"Runs", runs},
			{"Runs a day", meanText(p.RunsPerDay)},
		}
		if p.Sampled {
			c.Facts = append(c.Facts, fact{"Run times", "sampled"})
		}
		spec := chartSpec{From: rep.From, To: rep.To, Unit: "seconds",
			Label:  fmt.Sprintf("Run time of pipeline %s by day over %d days: p95 and p50 of successful runs, with the trend", p.ID, rep.Days),
			Series: []chartSeries{{Class: "s2", Name: "p50", Points: p.P50.Points}, {Class: "s1", Name: "p95", Points: p.P95.Points}},
			Trend:  fitOf(p.Overrun, p.P95.Fit), Cross: crossOf(p.Overrun)}
		c.Legend = []legendItem{{"s1", "p95"}, {"s2", "p50"}, {"trend", "p95 trend"}}
		if p.Interval > 0 {
			limit := p.Interval.Seconds()
			spec.Limit, spec.LimitLabel = &limit, "interval "+capacity.Duration(p.Interval)
			spec.Label += fmt.Sprintf(" and the schedule interval of %s", capacity.Duration(p.Interval))
			c.Legend = append(c.Legend, legendItem{"limit", "schedule interval"})
		}
		if len(p.P95.Points) > 0 {
			c.Chart = buildChart(spec)
		}
		d.Pipes = append(d.Pipes, c)
	}
	for _, v := range rep.Volumes {
		c := &capacityCard{Anchor: "volume-" + v.Key(), Kind: "volume", Name: v.Key(), Sub: fmt.Sprintf("metric.%s of %s.%s", v.Metric, v.Pipeline, v.Task)}
		if d.Example == "" {
			d.Example = v.Key()
		}
		c.Forecast = forecastOf(v.Forecast)
		href[v.Forecast] = "#" + c.Anchor
		values := strconv.Itoa(v.Count)
		if v.Invalid > 0 {
			values += fmt.Sprintf(" (%d not numbers)", v.Invalid)
		}
		c.Facts = []fact{
			{"Daily mean", lastNumber(v.Mean)},
			{"Trend", trendText(v.Mean, "number")},
			{"Daily max", lastNumber(v.Max)},
			{"Values", values},
		}
		spec := chartSpec{From: rep.From, To: rep.To, Unit: "number",
			Label:  fmt.Sprintf("Daily mean of metric %s over %d days, with the trend", v.Key(), rep.Days),
			Series: []chartSeries{{Class: "s1", Name: "daily mean", Points: v.Mean.Points}},
			Trend:  fitOf(v.Forecast, v.Mean.Fit), Cross: crossOf(v.Forecast)}
		c.Legend = []legendItem{{"s1", "daily mean"}, {"trend", "trend"}}
		if v.Threshold == nil {
			c.Hint = "No threshold: set one above (" + v.Key() + "=VALUE) to forecast when it is passed."
		} else {
			spec.Limit, spec.LimitLabel = v.Threshold, "threshold "+capacity.Number(*v.Threshold)
			spec.Label += " and the threshold of " + capacity.Number(*v.Threshold)
			c.Facts = append(c.Facts, fact{"Threshold", capacity.Number(*v.Threshold)})
			c.Legend = append(c.Legend, legendItem{"limit", "threshold"})
		}
		if len(v.Mean.Points) > 0 {
			c.Chart = buildChart(spec)
		}
		d.Volumes = append(d.Volumes, c)
	}
	for _, f := range rep.Forecasts() {
		fv := forecastOf(f)
		fv.Href = href[f]
		d.Forecasts = append(d.Forecasts, fv)
		if f.Risk == capacity.RiskHigh || f.Risk == capacity.RiskMedium {
			d.Attention++
		}
	}
	// Cards most at risk first, then by name.
	for _, cards := range [][]*capacityCard{d.Pools, d.Pipes, d.Volumes} {
		slices.SortStableFunc(cards, func(a, b *capacityCard) int {
			return cmp.Compare(riskOrder(a.Forecast), riskOrder(b.Forecast))
		})
	}
}

func forecastOf(f *capacity.Forecast) *forecastView {
	if f == nil {
		return nil
	}
	return &forecastView{Risk: f.Risk, Label: riskLabel(f), Message: msgParts(f.Message)}
}

// riskLabel says a forecast's risk in a few words.
func riskLabel(f *capacity.Forecast) string {
	switch {
	case f.Status == capacity.StatusAlready:
		return "Limit reached"
	case f.Risk == capacity.RiskHigh:
		return "Within 30 days"
	case f.Risk == capacity.RiskMedium:
		return "Within 90 days"
	case f.Risk == capacity.RiskLow:
		return "Later"
	case f.Risk == capacity.RiskUnknown:
		return "Too little data"
	}
	return "No risk"
}

func riskOrder(f *forecastView) int {
	if f == nil {
		return 9
	}
	return slices.Index([]string{capacity.RiskHigh, capacity.RiskMedium, capacity.RiskLow, capacity.RiskUnknown, capacity.RiskNone}, f.Risk)
}

// fitOf is the trend a chart draws: the forecast's, else the series'.
func fitOf(f *capacity.Forecast, fit *capacity.Fit) *capacity.Fit {
	if f != nil && f.Fit != nil {
		return f.Fit
	}
	return fit
}

func crossOf(f *capacity.Forecast) *time.Time {
	if f == nil || f.Status != capacity.StatusDate {
		return nil
	}
	return f.Date
}

// msgParts splits a message at its backticks.
func msgParts(s string) []msgPart {
	var out []msgPart
	for i, part := range strings.Split(s, "`") {
		if part != "" {
			out = append(out, msgPart{Text: part, Code: i%2 == 1})
		}
	}
	return out
}

func usersText(p *capacity.PoolTrend) string {
	if p.SlotHours <= 0 {
		return ""
	}
	var parts []string
	for i, u := range p.Users {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(p.Users)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", u.Pipeline, capacity.Percent(u.SlotHours/p.SlotHours)))
	}
	return strings.Join(parts, ", ")
}

func lastPercent(s capacity.Series) string {
	if len(s.Points) == 0 {
		return "–"
	}
	return capacity.Percent(s.Last())
}

func lastDuration(s capacity.Series) string {
	if len(s.Points) == 0 {
		return "–"
	}
	return capacity.Duration(time.Duration(s.Last() * float64(time.Second)))
}

func lastNumber(s capacity.Series) string {
	if len(s.Points) == 0 {
		return "–"
	}
	return capacity.Number(s.Last())
}

func meanText(s capacity.Series) string {
	if len(s.Points) == 0 {
		return "–"
	}
	var sum float64
	for _, p := range s.Points {
		sum += p.Value
	}
	return strconv.FormatFloat(math.Round(sum/float64(len(s.Points))*10)/10, 'f', -1, 64)
}

// trendText is a series' slope per week in its unit.
func trendText(s capacity.Series, unit string) string {
	if s.Fit == nil {
		return "–"
	}
	w := s.Fit.PerWeek()
	sign := "+"
	if w < 0 {
		sign, w = "−", -w
	}
	switch unit {
	case "fraction":
		return fmt.Sprintf("%s%.1f points a week", sign, w*100)
	case "seconds":
		return sign + capacity.Duration(time.Duration(w*float64(time.Second))) + " a week"
	}
	return sign + capacity.Number(w) + " a week"
}
