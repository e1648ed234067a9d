package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
)

// funcs are the template functions. Time formatting needs the request's
// zone, so it is done by methods of view instead.
var funcs = template.FuncMap{
	"rolesText":  auth.RolesText,
	"seg":        url.PathEscape,
	"stateLabel": stateLabel,
	"shortHash":  shortHash,
	"containerRef": func(id string) string {
		// A Pod is "pod/NAMESPACE/NAME", shown whole; a container id is cut.
		if strings.HasPrefix(id, "pod/") {
			return id
		}
		return shortHash(id)
	},
	"asset":     assetURL,
	"hookPath":  control.HookPath,
	"add":       func(a, b int) int { return a + b },
	"addf":      func(a, b float64) float64 { return a + b },
	"stc":       stateClass,
	"dict":      dict,
	"states":    func() []string { return legendStates },
	"runStates": func() []string { return runLegendStates },
	"upper":     strings.ToUpper,
	"blocked":   isBlocked,
	"perrLines": perrLines,
	"base":      filepath.Base,
	"inList":    func(s string, list []string) bool { return slices.Contains(list, s) },
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

// legendStates are the task instance states, in the order of the legend.
var legendStates = []string{"success", "failed", "running", "queued", "up_for_retry", "upstream_failed", "skipped", "cancelled", "pending"}

// runLegendStates are the run states.
var runLegendStates = []string{"success", "failed", "running", "queued", "cancelled"}

// dict makes a map of key, value pairs, to pass several values to a
// template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// perrLine is one line of a stored parse error: "file:line:col" in Pos
// and the rest (": message") in Text, or a hint ("\thint: …") in Text
// with Hint set, or any other line in Text.
type perrLine struct {
	Pos, Text string
	Hint      bool
}

var perrPos = regexp.MustCompile(`^(.+?:\d+:\d+)(: .*)$`)

// perrLines splits a stored parse error into lines, so that a page can
// set their positions apart. Put back together, the lines are the error.
func perrLines(s string) []perrLine {
	var out []perrLine
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		switch m := perrPos.FindStringSubmatch(l); {
		case m != nil:
			out = append(out, perrLine{Pos: m[1], Text: m[2]})
		case strings.HasPrefix(strings.TrimSpace(l), "hint:"):
			out = append(out, perrLine{Text: l, Hint: true})
		default:
			out = append(out, perrLine{Text: l})
		}
	}
	return out
}

// stateClass is the CSS class of a state: "st-success", or "st-none"
// for no state.
func stateClass(s any) string {
	str := fmt.Sprint(s)
	if str == "" {
		return "st-none"
	}
	return "st-" + str
}

// stateLabel is how a state reads in text: "up for retry".
func stateLabel(s any) string {
	str := fmt.Sprint(s)
	if str == "" {
		return "no status"
	}
	return strings.ReplaceAll(str, "_", " ")
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// zoneCookie holds the browser's IANA time zone, set by app.js, so that
// the server renders times as the reader's clock shows them.
const zoneCookie = "sluice_tz"

// zonePrefCookie holds the reader's choice of zone for times: "local"
// (the browser's zone, the default), "utc", or "pipeline" (on a
// pipeline's pages, the pipeline's own timezone). It is a cookie so that
// every web process renders the same choice without keeping state.
const zonePrefCookie = "sluice_tzpref"

// The zone choices, in the order of the picker.
const (
	zoneLocal    = "local"
	zoneUTC      = "utc"
	zonePipeline = "pipeline"
)

// zoneChoices are the picker's options.
var zoneChoices = []struct{ Value, Label string }{
	{zoneLocal, "Browser's local time"},
	{zoneUTC, "UTC"},
	{zonePipeline, "Pipeline's timezone"},
}

var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)

// requestZone returns the reader's time zone, or UTC.
func requestZone(r *http.Request) *time.Location {
	c, err := r.Cookie(zoneCookie)
	if err != nil {
		return time.UTC
	}
	name, err := url.QueryUnescape(c.Value)
	if err != nil || name == "Local" || !zoneName.MatchString(name) {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// requestZonePref returns the reader's zone choice: the logged-in user's,
// which follows them to every browser; else the browser's cookie (with
// --auth none); "local" when none or an unknown one.
func requestZonePref(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		switch p.ZonePref {
		case zoneLocal, zoneUTC, zonePipeline:
			return p.ZonePref
		}
	}
	if c, err := r.Cookie(zonePrefCookie); err == nil {
		switch c.Value {
		case zoneUTC, zonePipeline:
			return c.Value
		}
	}
	return zoneLocal
}

// zonedData is page data about one pipeline, whose times read in the
// pipeline's timezone when the reader chose "pipeline".
type zonedData interface {
	pipelineZone() string
}

// pipelineZone is the timezone of the head's pipeline; "" without a
// valid version.
func (h *pipelineHead) pipelineZone() string {
	if h == nil || h.P == nil {
		return ""
	}
	return h.P.Timezone
}

// pipelineZone is the timezone of the run's pipeline version.
func (d *runData) pipelineZone() string {
	if d == nil || d.P == nil {
		return ""
	}
	return d.P.Timezone
}

// pipelineZone is the timezone of the run's pipeline version.
func (d *logData) pipelineZone() string { return d.zone }

// zoneFor sets the view's zone from the reader's choice: UTC, the
// pipeline's zone on a page about one pipeline, else the browser's.
func (v *view) zoneFor(r *http.Request, d any) {
	v.ZonePref = requestZonePref(r)
	switch v.ZonePref {
	case zoneUTC:
		v.Zone = time.UTC
	case zonePipeline:
		v.Zone = requestZone(r)
		if zd, ok := d.(zonedData); ok {
			if loc := loadZone(zd.pipelineZone()); loc != nil {
				v.Zone, v.PipelineZoned = loc, true
			}
		}
	default:
		v.Zone = requestZone(r)
	}
}

// readerZone is the zone of the times on a page that is not about one
// pipeline: UTC when the reader chose it, else the browser's (also for
// readers who chose each pipeline's zone, as the footer says).
func readerZone(r *http.Request) *time.Location {
	if requestZonePref(r) == zoneUTC {
		return time.UTC
	}
	return requestZone(r)
}

// loadZone loads a pipeline's zone; nil for "" or an unknown name.
func loadZone(name string) *time.Location {
	if name == "" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// In returns the view with times in the pipeline zone name when the
// reader chose the pipeline's zone, for a row of a list of pipelines;
// else the view itself.
func (v *view) In(name string) *view {
	if v.ZonePref != zonePipeline {
		return v
	}
	loc := loadZone(name)
	if loc == nil {
		return v
	}
	c := *v
	c.Zone, c.PipelineZoned = loc, true
	return &c
}

// ZoneChoices are the options of the zone picker.
func (v *view) ZoneChoices() []struct{ Value, Label string } { return zoneChoices }

// ZoneName is the name of the reader's zone, for the footer.
func (v *view) ZoneName() string {
	if v.ZonePref == zonePipeline && !v.PipelineZoned {
		return "each pipeline's timezone (" + v.Zone.String() + " elsewhere)"
	}
	return v.Zone.String()
}

// Time formats a time in the reader's zone with the zone's abbreviation:
// "2026-01-02 15:04:05 CET". A nil or zero time is "—".
func (v *view) Time(t any) string {
	tt, ok := timeOf(t)
	if !ok {
		return "—"
	}
	return tt.In(v.Zone).Format("2006-01-02 15:04:05 MST")
}

// Short formats a time compactly but always with its date, since runs
// span days: "Dec 05 03:00" in the current year, else
// "2025-12-05 03:00".
func (v *view) Short(t any) string {
	tt, ok := timeOf(t)
	if !ok {
		return "—"
	}
	tt = tt.In(v.Zone)
	if tt.Year() == v.Now.In(v.Zone).Year() {
		return tt.Format("Jan 02 15:04")
	}
	return tt.Format("2006-01-02 15:04")
}

// Abbrev is the abbreviation of the zone a time is shown in, at that
// time: "CET", "CEST", "UTC".
func (v *view) Abbrev(t any) string {
	tt, ok := timeOf(t)
	if !ok {
		return ""
	}
	return tt.In(v.Zone).Format("MST")
}

// Clock formats a time of day with milliseconds, for log lines.
func (v *view) Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.Zone).Format("15:04:05.000")
}

// linesView is the data of the log-lines template.
type linesView struct {
	V     *view
	Lines []logLine
}

// WithLines pairs log lines with the view, for the log-lines template.
func (v *view) WithLines(lines []logLine) *linesView { return &linesView{V: v, Lines: lines} }

// Rel says how far a time is from now: "in 5m", "3h ago".
func (v *view) Rel(t any) string {
	tt, ok := timeOf(t)
	if !ok {
		return ""
	}
	d := tt.Sub(v.Now)
	if d >= 0 {
		if d < time.Second {
			return "now"
		}
		return "in " + roughDuration(d)
	}
	if -d < time.Second {
		return "just now"
	}
	return roughDuration(-d) + " ago"
}

// Dur is the duration from start to end, or to now while end is nil.
func (v *view) Dur(start, end any) string {
	s, ok := timeOf(start)
	if !ok {
		return "—"
	}
	e, ok := timeOf(end)
	if !ok {
		e = v.Now
	}
	return formatDuration(e.Sub(s))
}

func timeOf(t any) (time.Time, bool) {
	switch x := t.(type) {
	case time.Time:
		return x, !x.IsZero()
	case *time.Time:
		if x == nil || x.IsZero() {
			return time.Time{}, false
		}
		return *x, true
	}
	return time.Time{}, false
}

// formatDuration writes a duration for people: "850ms", "12.3s", "4m 05s",
// "2h 10m", "3d 4h".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// roughDuration is a duration to one unit: "5s", "3m", "2h", "4d".
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}
