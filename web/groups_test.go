package web

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

const groupedSrc = `id: g
groups:
  extract: {description: Pull}
  load:
tasks:
  orders: {group: extract, run: echo}
  customers: {group: extract, run: echo}
  merge: {depends_on: [orders, customers], run: echo}
  facts: {group: load, depends_on: [merge], run: echo}
  dims: {group: load, depends_on: [merge], run: echo}
  report: {depends_on: [facts, dims], run: echo}
`

func parseGrouped(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.Parse("g.yaml", []byte(groupedSrc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGroupFold(t *testing.T) {
	t.Parallel()
	f := foldOf(httptest.NewRequest("GET", "/pipelines/g/graph?run=7&open=load", nil), "/pipelines/g/graph")
	if !f.Open("load") || f.Open("extract") {
		t.Fatalf("open: load %v, extract %v", f.Open("load"), f.Open("extract"))
	}
	if got := f.Toggle("extract"); got != "/pipelines/g/graph?open=extract&open=load&run=7" {
		t.Errorf("Toggle(extract) = %q", got)
	}
	if got := f.Toggle("load"); got != "/pipelines/g/graph?run=7" {
		t.Errorf("Toggle(load) = %q", got)
	}
	if got := f.OpenQuery(); got != "open=load" {
		t.Errorf("OpenQuery() = %q", got)
	}
	var none *groupFold
	if !none.Open("x") || none.OpenQuery() != "" {
		t.Error("a nil fold does not show every group open")
	}
}

func TestGroupedOrder(t *testing.T) {
	t.Parallel()
	p := parseGrouped(t)
	got := groupedOrder(p, []string{"orders", "customers", "merge", "dims", "facts", "report", "old"})
	want := []groupedItem{
		{Group: "extract"}, {"extract", "orders"}, {"extract", "customers"},
		{Task: "merge"},
		{Group: "load"}, {"load", "dims"}, {"load", "facts"},
		{Task: "report"}, {Task: "old"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groupedOrder = %v\nwant %v", got, want)
	}
}

// TestGraphGroups: a closed group is one node with its tasks' aggregate
// state and the edges of its tasks; an open group draws its tasks, in a
// frame.
func TestGraphGroups(t *testing.T) {
	t.Parallel()
	p := parseGrouped(t)
	ins := map[string]*store.Instance{
		"orders": {State: sluice.InstanceSuccess}, "customers": {State: sluice.InstanceSuccess}, "merge": {State: sluice.InstanceSuccess},
		"facts": {State: sluice.InstanceRunning}, "dims": {State: sluice.InstanceFailed}, "report": {State: sluice.InstancePending},
	}
	closed := buildGraph(p, ins, 3, foldOf(httptest.NewRequest("GET", "/runs/3", nil), "/runs/3"))
	states := map[string]string{}
	for _, n := range closed.Nodes {
		states[n.ID] = n.State
	}
	if want := map[string]string{"group:extract": "success", "merge": "success", "group:load": "failed", "report": "pending"}; !reflect.DeepEqual(states, want) {
		t.Errorf("closed groups: nodes %v, want %v", states, want)
	}
	if len(closed.Edges) != 3 || len(closed.Frames) != 0 {
		t.Errorf("closed groups: %d edges (want 3), %d frames (want 0)", len(closed.Edges), len(closed.Frames))
	}
	for _, n := range closed.Nodes {
		if n.ID == "group:load" && (n.Href != "/runs/3?open=load" || n.Count != 2 || !n.Group) {
			t.Errorf("the load node: %+v", n)
		}
	}
	open := buildGraph(p, ins, 3, foldOf(httptest.NewRequest("GET", "/runs/3?open=load", nil), "/runs/3"))
	if len(open.Nodes) != 5 || len(open.Edges) != 5 {
		t.Errorf("load open: %d nodes (want 5), %d edges (want 5)", len(open.Nodes), len(open.Edges))
	}
	if len(open.Frames) != 1 || open.Frames[0].Name != "load" || open.Frames[0].State != "failed" || open.Frames[0].Toggle != "/runs/3" {
		t.Fatalf("frames = %+v", open.Frames)
	}
	fr := open.Frames[0]
	for _, n := range open.Nodes {
		inside := n.X >= fr.X && n.X+n.W <= fr.X+fr.W && n.Y >= fr.Y && n.Y+n.H <= fr.Y+fr.H
		if member := n.ID == "facts" || n.ID == "dims"; inside != member {
			t.Errorf("node %s inside the frame: %v", n.ID, inside)
		}
	}
	// Without groups the drawing is as before: no room for frame labels.
	plain := buildGraph(&pipeline.Pipeline{ID: "x", Tasks: map[string]*pipeline.Task{"a": {ID: "a"}}}, nil, 0, nil)
	if plain.Nodes[0].Y != layoutMargin {
		t.Errorf("a graph without groups moved: y = %v", plain.Nodes[0].Y)
	}
}
