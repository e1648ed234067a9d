package web

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// graphView is the SVG drawing of a pipeline's DAG with the states of one
// run's task instances.
type graphView struct {
	Width, Height float64
	Nodes         []graphNode
	Edges         []graphEdge
	// Frames outline the open task groups.
	Frames []groupFrame
}

type graphNode struct {
	ID, Label, State, Href string
	// Blocked says why the ready task cannot start.
	Blocked    string
	X, Y, W, H float64
	// Group is set on the node of a closed task group, which stands for
	// its Count tasks; its Href opens the group. Title is its tooltip.
	Group        bool
	Count        int
	Title, Class string
}

type graphEdge struct {
	D, State string
}

// Box label metrics: a 12px monospace font is about 7.3px per character;
// the box has room for a state square and padding.
const (
	graphCharW = 7.3
	graphPadW  = 38.0
	graphMinW  = 150.0
	graphMaxW  = 260.0
)

func graphBoxWidth(id string) float64 {
	return math.Max(graphMinW, math.Min(graphMaxW, float64(utf8.RuneCountInString(id))*graphCharW+graphPadW))
}

// graphLabel shortens an id to fit its box.
func graphLabel(id string, w float64) string {
	max := int((w - graphPadW) / graphCharW)
	if utf8.RuneCountInString(id) <= max {
		return id
	}
	r := []rune(id)
	return string(r[:max-1]) + "…"
}

// buildGraph draws p; instances (by task id) color the boxes, and runID,
// when not 0, links each box to its task's log in that run. A task group
// that fold does not show open is drawn as one node in its tasks' place,
// with their aggregate state; a nil fold shows every group open.
func buildGraph(p *pipeline.Pipeline, instances map[string]*store.Instance, runID int64, fold *groupFold) *graphView {
	if p == nil {
		return nil
	}
	// node maps a task to the node that draws it: itself, or its closed
	// group's.
	node := func(id string) string {
		if t := p.Tasks[id]; t != nil && t.Group != "" && !fold.Open(t.Group) {
			return groupNodeID(t.Group)
		}
		return id
	}
	var ids []string
	deps := map[string][]string{}
	seen := map[string]bool{}
	for _, id := range p.TopoOrder() {
		n := node(id)
		if !seen[n] {
			seen[n] = true
			ids = append(ids, n)
		}
		for _, d := range p.Tasks[id].DependsOn {
			if dn := node(d); dn != n && !slices.Contains(deps[n], dn) {
				deps[n] = append(deps[n], dn)
			}
		}
	}
	groupOf := func(n string) (string, bool) { return strings.CutPrefix(n, "group:") }
	width := func(n string) float64 {
		if g, ok := groupOf(n); ok {
			return graphBoxWidth("▸ " + g)
		}
		return graphBoxWidth(n)
	}
	lay := layoutDAG(ids, deps, width)
	// Room above the top boxes for the name of an open group's frame.
	dy := 0.0
	for _, g := range p.GroupNames() {
		if fold.Open(g) {
			dy = frameLabelH
			break
		}
	}
	for i := range lay.Boxes {
		lay.Boxes[i].Y += dy
	}
	for _, e := range lay.Edges {
		for i := range e.Points {
			e.Points[i].Y += dy
		}
	}
	frames := groupFrames(p, lay.Boxes, instances, fold)
	g := &graphView{Width: math.Ceil(lay.Width), Height: math.Ceil(lay.Height + dy), Frames: frames}
	stateOf := func(n string) string {
		if name, ok := groupOf(n); ok {
			return string(groupState(p.GroupTasks(name), instances))
		}
		if in := instances[n]; in != nil {
			return string(in.State)
		}
		return ""
	}
	for _, b := range lay.Boxes {
		n := graphNode{ID: b.ID, Label: graphLabel(b.ID, b.W), X: b.X, Y: b.Y, W: b.W, H: b.H, State: stateOf(b.ID)}
		if name, ok := groupOf(b.ID); ok {
			tasks := p.GroupTasks(name)
			n.Group, n.Count, n.Label, n.Class = true, len(tasks), graphLabel("▸ "+name, b.W), "group-node"
			n.Title = fmt.Sprintf("group %s: %d tasks", name, len(tasks))
			if d := p.Groups[name].Description; d != "" {
				n.Title += " · " + d
			}
			if fold != nil {
				n.Href = fold.Toggle(name)
			}
			g.Nodes = append(g.Nodes, n)
			continue
		}
		n.Title = b.ID
		if t := p.Tasks[b.ID]; t != nil && t.Group != "" {
			n.Title += " · group " + t.Group
		}
		if in := instances[b.ID]; in != nil && isBlocked(in) {
			n.Blocked = in.Blocked
		}
		if runID != 0 {
			n.Href = fmt.Sprintf("/runs/%d/tasks/%s", runID, url.PathEscape(b.ID))
		}
		g.Nodes = append(g.Nodes, n)
	}
	for _, e := range lay.Edges {
		g.Edges = append(g.Edges, graphEdge{D: edgePath(e.Points), State: stateOf(e.From)})
	}
	return g
}

// ganttView is the time chart of a run: one row per task, one bar per
// attempt. Task names are an HTML column; the plot is an SVG whose
// horizontal positions are percentages of its width, so it fills any
// screen without scaling its text.
type ganttView struct {
	Height     float64
	AxisH      float64
	RowH       float64
	Rows       []ganttRow
	Bars       []ganttBar
	Ticks      []ganttTick
	NowX       float64
	ShowNow    bool
	Start, End time.Time
	Empty      bool
}

type ganttRow struct {
	Task, Label, Href string
	Y                 float64
	Odd               bool
}

// ganttBar is one attempt; X and W are percentages of the plot's width.
type ganttBar struct {
	X, Y, W, H   float64
	State, Title string
	Href         string
}

// ganttTick is a time on the axis at X percent, its label anchored at
// "start", "middle" or "end" so that it stays inside the plot.
type ganttTick struct {
	X      float64
	Label  string
	Anchor string
}

const (
	ganttRowH  = 24.0
	ganttAxisH = 24.0
	ganttBarH  = 14.0
)

// ganttRowSpec is one row of a Gantt chart: a task instance (a task, or
// an item of a mapped task).
type ganttRowSpec struct {
	InstanceID        int64
	Task, Label, Href string
}

// buildGantt draws the attempts of a run on a time axis in zone loc, one
// row per instance in the order of rows.
func buildGantt(run *store.Run, rows []ganttRowSpec, attempts []*store.Attempt, now time.Time, loc *time.Location) *ganttView {
	g := &ganttView{AxisH: ganttAxisH, RowH: ganttRowH, Empty: len(attempts) == 0}
	g.Height = ganttAxisH + float64(len(rows))*ganttRowH
	var start, end time.Time
	running := false
	for _, a := range attempts {
		if start.IsZero() || a.StartedAt.Before(start) {
			start = a.StartedAt
		}
		e := now
		if a.FinishedAt != nil {
			e = *a.FinishedAt
		} else {
			running = true
		}
		if e.After(end) {
			end = e
		}
	}
	if run.StartedAt != nil && (start.IsZero() || run.StartedAt.Before(start)) {
		start = *run.StartedAt
	}
	if start.IsZero() {
		start = run.CreatedAt
	}
	if run.FinishedAt != nil && run.FinishedAt.After(end) {
		end = *run.FinishedAt
	}
	if !run.State.Finished() {
		running = true
		if now.After(end) {
			end = now
		}
	}
	if end.Sub(start) < time.Second {
		end = start.Add(time.Second)
	}
	g.Start, g.End = start, end
	span := end.Sub(start)
	xOf := func(t time.Time) float64 {
		return math.Round(float64(t.Sub(start))/float64(span)*100000) / 1000
	}
	rowOf := map[int64]int{}
	for i, r := range rows {
		rowOf[r.InstanceID] = i
		g.Rows = append(g.Rows, ganttRow{
			Task: r.Label, Label: ganttLabel(r.Label), Y: ganttAxisH + float64(i)*ganttRowH, Odd: i%2 == 1, Href: r.Href,
		})
	}
	for _, a := range attempts {
		i, ok := rowOf[a.InstanceID]
		if !ok {
			continue
		}
		href := rows[i].Href
		e := now
		if a.FinishedAt != nil {
			e = *a.FinishedAt
		}
		x1, x2 := xOf(a.StartedAt), xOf(e)
		g.Bars = append(g.Bars, ganttBar{
			X: x1, Y: ganttAxisH + float64(i)*ganttRowH + (ganttRowH-ganttBarH)/2, W: math.Max(0.3, x2-x1), H: ganttBarH,
			State: string(a.State),
			Title: fmt.Sprintf("%s · attempt %d · %s · %s → %s (%s)", a.TaskID, a.Number, stateLabel(a.State),
				a.StartedAt.In(loc).Format("15:04:05.000"), endLabel(a.FinishedAt, loc), formatDuration(e.Sub(a.StartedAt))),
			Href: addQuery(href, "attempt", fmt.Sprint(a.Number)),
		})
	}
	step := tickStep(span)
	if span < time.Minute {
		// Short runs read best as offsets from their start.
		for t := time.Duration(0); t <= span; t += step {
			g.Ticks = append(g.Ticks, ganttTick{X: xOf(start.Add(t)), Label: offsetLabel(t)})
		}
	} else {
		format := "15:04"
		if span > 36*time.Hour {
			format = "Jan 02 15:04"
		}
		lt := start.In(loc)
		first := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), 0, 0, 0, loc)
		day := lt.Format(time.DateOnly)
		for t := first; !t.After(end); t = t.Add(step) {
			if !t.Before(start) {
				label := t.In(loc).Format(format)
				// A run past midnight: the first tick of a new day
				// says which day.
				if d := t.In(loc).Format(time.DateOnly); d != day {
					label, day = t.In(loc).Format("Jan 02 15:04"), d
				}
				g.Ticks = append(g.Ticks, ganttTick{X: xOf(t), Label: label})
			}
		}
	}
	for i := range g.Ticks {
		switch x := g.Ticks[i].X; {
		case x < 4:
			g.Ticks[i].Anchor = "start"
		case x > 96:
			g.Ticks[i].Anchor = "end"
		default:
			g.Ticks[i].Anchor = "middle"
		}
	}
	if running && !now.Before(start) && !now.After(end) {
		g.ShowNow, g.NowX = true, xOf(now)
	}
	return g
}

// addQuery adds a query parameter to a local URL.
func addQuery(u, key, value string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

// offsetLabel writes a tick's offset from the start: "0s", "+2.5s".
func offsetLabel(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%time.Second == 0 {
		return fmt.Sprintf("+%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("+%gs", math.Round(d.Seconds()*1000)/1000)
}

func endLabel(t *time.Time, loc *time.Location) string {
	if t == nil {
		return "running"
	}
	return t.In(loc).Format("15:04:05.000")
}

func ganttLabel(id string) string {
	const max = 23
	if utf8.RuneCountInString(id) <= max {
		return id
	}
	return string([]rune(id)[:max-1]) + "…"
}

// tickStep is the roundest step that puts at most 8 ticks on span.
func tickStep(span time.Duration) time.Duration {
	steps := []time.Duration{
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	}
	for _, s := range steps {
		if span/s <= 8 {
			return s
		}
	}
	return span / 8
}
