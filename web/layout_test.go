package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

func fixedWidth(string) float64 { return 120 }

func TestLayoutDAG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ids    []string
		deps   map[string][]string
		layers map[string]int
		// crossings is the most edge crossings the layout may have.
		crossings int
	}{
		{
			name:   "chain",
			ids:    []string{"a", "b", "c"},
			deps:   map[string][]string{"b": {"a"}, "c": {"b"}},
			layers: map[string]int{"a": 0, "b": 1, "c": 2},
		},
		{
			name: "fan out and in",
			ids:  []string{"plan", "p1", "p2", "p3", "merge"},
			deps: map[string][]string{
				"p1": {"plan"}, "p2": {"plan"}, "p3": {"plan"}, "merge": {"p1", "p2", "p3"},
			},
			layers: map[string]int{"plan": 0, "p1": 1, "p2": 1, "p3": 1, "merge": 2},
		},
		{
			name: "longest path decides the layer",
			ids:  []string{"extract", "transform", "load", "cleanup"},
			deps: map[string][]string{
				"transform": {"extract"}, "load": {"transform"}, "cleanup": {"load", "extract"},
			},
			layers: map[string]int{"extract": 0, "transform": 1, "load": 2, "cleanup": 3},
		},
		{
			name:   "independent roots",
			ids:    []string{"x", "y", "z"},
			deps:   map[string][]string{},
			layers: map[string]int{"x": 0, "y": 0, "z": 0},
		},
		{
			name: "crossings removed by ordering",
			// a1 feeds b2 and a2 feeds b1: in input order the edges cross;
			// the barycenter sweeps untangle them.
			ids:    []string{"a1", "a2", "b1", "b2"},
			deps:   map[string][]string{"b1": {"a2"}, "b2": {"a1"}},
			layers: map[string]int{"a1": 0, "a2": 0, "b1": 1, "b2": 1},
		},
		{
			name: "unknown, self and duplicate deps are ignored",
			ids:  []string{"a", "b"},
			deps: map[string][]string{"a": {"a", "ghost"}, "b": {"a", "a"}},
			layers: map[string]int{
				"a": 0, "b": 1,
			},
		},
		{
			name:   "a cycle does not hang",
			ids:    []string{"a", "b"},
			deps:   map[string][]string{"a": {"b"}, "b": {"a"}},
			layers: map[string]int{"a": 1, "b": 0},
		},
		{
			name: "diamond with a long edge",
			ids:  []string{"r", "a", "b", "c", "d"},
			deps: map[string][]string{
				"a": {"r"}, "b": {"a"}, "c": {"b"}, "d": {"c", "r"},
			},
			layers: map[string]int{"r": 0, "a": 1, "b": 2, "c": 3, "d": 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lay := layoutDAG(tt.ids, tt.deps, fixedWidth)
			if len(lay.Boxes) != len(tt.ids) {
				t.Fatalf("%d boxes for %d tasks", len(lay.Boxes), len(tt.ids))
			}
			boxes := map[string]Box{}
			for _, b := range lay.Boxes {
				boxes[b.ID] = b
			}
			for id, want := range tt.layers {
				if got := boxes[id].Layer; got != want {
					t.Errorf("layer of %s = %d, want %d", id, got, want)
				}
			}
			checkLayout(t, lay)
			if n := countCrossings(lay); n > tt.crossings {
				t.Errorf("%d edge crossings, want at most %d", n, tt.crossings)
			}
		})
	}
}

// checkLayout checks what every layout must hold: boxes inside the
// drawing and not overlapping, edges from the right side of their source
// to the left side of their target, never going left, and never through a
// box.
func checkLayout(t *testing.T, lay Layout) {
	t.Helper()
	boxes := map[string]Box{}
	for i, a := range lay.Boxes {
		boxes[a.ID] = a
		if a.X < 0 || a.Y < 0 || a.X+a.W > lay.Width || a.Y+a.H > lay.Height {
			t.Errorf("box %s (%v,%v %vx%v) outside the drawing %vx%v", a.ID, a.X, a.Y, a.W, a.H, lay.Width, lay.Height)
		}
		for _, b := range lay.Boxes[i+1:] {
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("boxes %s and %s overlap", a.ID, b.ID)
			}
		}
	}
	for _, e := range lay.Edges {
		from, to := boxes[e.From], boxes[e.To]
		if to.Layer <= from.Layer {
			t.Errorf("edge %s→%s goes from layer %d to %d", e.From, e.To, from.Layer, to.Layer)
		}
		p := e.Points
		if p[0].X != from.X+from.W || p[len(p)-1].X != to.X {
			t.Errorf("edge %s→%s does not join the boxes' sides: %v", e.From, e.To, p)
		}
		for i := 1; i < len(p); i++ {
			if p[i].X < p[i-1].X {
				t.Errorf("edge %s→%s goes left at point %d: %v", e.From, e.To, i, p)
			}
		}
		// Straight runs through crossed layers must miss every box.
		for i := 1; i+1 < len(p); i += 2 {
			y := p[i].Y
			for _, b := range lay.Boxes {
				if b.X < p[i+1].X && p[i].X < b.X+b.W && y > b.Y && y < b.Y+b.H {
					t.Errorf("edge %s→%s runs through box %s", e.From, e.To, b.ID)
				}
			}
		}
	}
}

// countCrossings counts pairs of edges between the same two adjacent
// layers whose ends are in opposite orders.
func countCrossings(lay Layout) int {
	type seg struct{ y1, y2, x float64 }
	var segs []seg
	for _, e := range lay.Edges {
		for i := 0; i+1 < len(e.Points); i += 2 {
			segs = append(segs, seg{e.Points[i].Y, e.Points[i+1].Y, e.Points[i].X})
		}
	}
	n := 0
	for i := range segs {
		for j := i + 1; j < len(segs); j++ {
			a, b := segs[i], segs[j]
			if a.x == b.x && (a.y1-b.y1)*(a.y2-b.y2) < 0 {
				n++
			}
		}
	}
	return n
}

func TestLayoutLargeGraph(t *testing.T) {
	t.Parallel()
	// A wide, deep graph with long edges: the invariants must hold.
	var ids []string
	deps := map[string][]string{}
	for l := 0; l < 6; l++ {
		for k := 0; k < 5; k++ {
			id := fmt.Sprintf("t%d_%d", l, k)
			ids = append(ids, id)
			if l > 0 {
				deps[id] = append(deps[id], fmt.Sprintf("t%d_%d", l-1, (k*2)%5))
			}
			if l > 2 {
				deps[id] = append(deps[id], fmt.Sprintf("t0_%d", k))
			}
		}
	}
	lay := layoutDAG(ids, deps, func(id string) float64 { return graphBoxWidth(strings.Repeat("x", len(id)*3)) })
	checkLayout(t, lay)
}

func TestIsotonic(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want []float64 }{
		{[]float64{1, 2, 3}, []float64{1, 2, 3}},
		{[]float64{3, 2, 1}, []float64{2, 2, 2}},
		{[]float64{1, 3, 2, 4}, []float64{1, 2.5, 2.5, 4}},
		{nil, []float64{}},
	}
	for _, tt := range tests {
		got := isotonic(tt.in)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("isotonic(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEdgePath(t *testing.T) {
	t.Parallel()
	got := edgePath([]Point{{0, 0}, {10, 20}})
	if want := "M0.0 0.0 C5.0 0.0 5.0 20.0 10.0 20.0"; got != want {
		t.Errorf("one segment: %q, want %q", got, want)
	}
	got = edgePath([]Point{{0, 0}, {10, 5}, {30, 5}, {40, 0}})
	if want := "M0.0 0.0 C5.0 0.0 5.0 5.0 10.0 5.0 L30.0 5.0 C35.0 5.0 35.0 0.0 40.0 0.0"; got != want {
		t.Errorf("through a layer: %q, want %q", got, want)
	}
}

func TestGanttBars(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := func(s int) *time.Time { x := start.Add(time.Duration(s) * time.Second); return &x }
	run := &store.Run{ID: 7, State: sluice.RunRunning, StartedAt: at(0), CreatedAt: start}
	attempts := []*store.Attempt{
		{InstanceID: 1, TaskID: "a", Number: 1, State: sluice.AttemptFailed, StartedAt: *at(0), FinishedAt: at(10)},
		{InstanceID: 1, TaskID: "a", Number: 2, State: sluice.AttemptSuccess, StartedAt: *at(20), FinishedAt: at(30)},
		{InstanceID: 2, TaskID: "b", Number: 1, State: sluice.AttemptRunning, StartedAt: *at(30)},
	}
	rows := []ganttRowSpec{{InstanceID: 1, Task: "a", Label: "a", Href: "/runs/7/tasks/a"}, {InstanceID: 2, Task: "b", Label: "b", Href: "/runs/7/tasks/b?item=0"}}
	g := buildGantt(run, rows, attempts, *at(40), time.UTC)
	if len(g.Bars) != 3 {
		t.Fatalf("%d bars, want one per attempt", len(g.Bars))
	}
	a1, a2, b := g.Bars[0], g.Bars[1], g.Bars[2]
	if a1.Y != a2.Y || a1.Y == b.Y {
		t.Errorf("retries must share their task's row: %v %v %v", a1.Y, a2.Y, b.Y)
	}
	if !(a1.X+a1.W < a2.X) {
		t.Errorf("attempt 2 must start after attempt 1 ends: %+v %+v", a1, a2)
	}
	if a1.X != 0 || b.X+b.W != 100 {
		t.Errorf("the axis must span the first start to now: %+v %+v", a1, b)
	}
	if !g.ShowNow || len(g.Ticks) == 0 {
		t.Errorf("a running run shows now and ticks: %+v", g)
	}
	if a1.State != "failed" || b.State != "running" {
		t.Errorf("bar states: %s %s", a1.State, b.State)
	}
	if a2.Href != "/runs/7/tasks/a?attempt=2" || b.Href != "/runs/7/tasks/b?item=0&attempt=1" {
		t.Errorf("bar links: %s %s", a2.Href, b.Href)
	}
}

// TestGanttTicksAcrossMidnight: a run from 22:30 to 01:30 labels its
// ticks with times, and the first tick of the new day with its date.
func TestGanttTicksAcrossMidnight(t *testing.T) {
	t.Parallel()
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 22, 30, 0, 0, warsaw)
	end := start.Add(3 * time.Hour)
	run := &store.Run{ID: 7, State: sluice.RunSuccess, StartedAt: &start, FinishedAt: &end, CreatedAt: start}
	attempts := []*store.Attempt{{InstanceID: 1, TaskID: "a", Number: 1, State: sluice.AttemptSuccess, StartedAt: start, FinishedAt: &end}}
	g := buildGantt(run, []ganttRowSpec{{InstanceID: 1, Task: "a", Label: "a"}}, attempts, end, warsaw)
	var labels []string
	for _, tick := range g.Ticks {
		labels = append(labels, tick.Label)
	}
	if got := strings.Join(labels, ", "); !strings.Contains(got, "23:30, Dec 05 00:00, 00:30") {
		t.Errorf("ticks %q, want 23:30, Dec 05 00:00, 00:30 among them", got)
	}
}
