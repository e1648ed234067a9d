package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// Task groups (pipeline.Group) show collapsed by default: one graph node
// and one grid row with the group's aggregate state (sluice.GroupState).
// Which groups are open lives in the page's query (open=NAME, repeated),
// so the toggles are plain links that work without script, a reload or a
// shared link keeps them, and the live refresh asks for the same view.

// groupFold is which groups a page shows open, and how to link to the
// page with one of them toggled.
type groupFold struct {
	path  string
	query url.Values
	open  map[string]bool
}

// foldOf reads the open groups of the page at path from r's query.
func foldOf(r *http.Request, path string) *groupFold {
	q := r.URL.Query()
	f := &groupFold{path: path, query: q, open: map[string]bool{}}
	for _, g := range q["open"] {
		f.open[g] = true
	}
	return f
}

// Open reports whether group name is shown open; every group is when f
// is nil.
func (f *groupFold) Open(name string) bool { return f == nil || f.open[name] }

// Toggle links to the page with group name opened or closed.
func (f *groupFold) Toggle(name string) string {
	q := url.Values{}
	for k, v := range f.query {
		if k != "open" {
			q[k] = v
		}
	}
	open := map[string]bool{name: !f.open[name]}
	for g := range f.open {
		if g != name {
			open[g] = true
		}
	}
	if names := sortedSet(open); len(names) > 0 {
		q["open"] = names
	}
	if len(q) == 0 {
		return f.path
	}
	return f.path + "?" + q.Encode()
}

// OpenQuery is the open groups as a query ("open=a&open=b"), for the
// live refresh of the page; empty when none is open.
func (f *groupFold) OpenQuery() string {
	if f == nil || len(f.open) == 0 {
		return ""
	}
	return url.Values{"open": sortedSet(f.open)}.Encode()
}

// OpenNames are the open groups, sorted, for hidden form fields.
func (f *groupFold) OpenNames() []string {
	if f == nil {
		return nil
	}
	return sortedSet(f.open)
}

func sortedSet(m map[string]bool) []string {
	var s []string
	for k, on := range m {
		if on {
			s = append(s, k)
		}
	}
	sort.Strings(s)
	return s
}

// groupChip is a group as the graph page lists it above the drawing.
type groupChip struct {
	Name, Description string
	Tasks             []string
	State             sluice.InstanceState
	Open              bool
	Toggle            string
	// Clear opens the Clear dialog for every task of the group in the
	// shown run; empty without a run.
	Clear string
}

// groupChips lists p's groups with their aggregate state in the run
// whose instances (by task id) are given.
func groupChips(p *pipeline.Pipeline, instances map[string]*store.Instance, runID int64, fold *groupFold) []groupChip {
	if p == nil {
		return nil
	}
	var chips []groupChip
	for _, name := range p.GroupNames() {
		c := groupChip{Name: name, Description: p.Groups[name].Description, Tasks: p.GroupTasks(name), Open: fold.Open(name)}
		c.State = groupState(c.Tasks, instances)
		if fold != nil {
			c.Toggle = fold.Toggle(name)
		}
		if runID != 0 {
			c.Clear = clearHref(runID, c.Tasks)
		}
		chips = append(chips, c)
	}
	return chips
}

// groupState is the aggregate state of tasks among instances.
func groupState(tasks []string, instances map[string]*store.Instance) sluice.InstanceState {
	states := make([]sluice.InstanceState, 0, len(tasks))
	for _, t := range tasks {
		if in := instances[t]; in != nil {
			states = append(states, in.State)
		}
	}
	return sluice.GroupState(states...)
}

// clearHref opens the Clear dialog of a run for tasks.
func clearHref(runID int64, tasks []string) string {
	return fmt.Sprintf("/runs/%d/clear?%s", runID, url.Values{"task": tasks}.Encode())
}

// groupNodeID is the layout id of a closed group's node; a task id
// cannot hold ":", so it never names a task.
func groupNodeID(name string) string { return "group:" + name }

// groupFrame is the outline drawn around the boxes of an open group,
// with its name as a link that closes it.
type groupFrame struct {
	Name, Title, Toggle string
	State               string
	X, Y, W, H          float64
	// Label is false when the name has no room above the frame.
	Label bool
}

const (
	framePad    = 5.0
	frameLabelH = 15.0
)

// groupFrames outlines each open group whose boxes can be framed without
// taking in a box of another task or crossing another frame.
func groupFrames(p *pipeline.Pipeline, boxes []Box, instances map[string]*store.Instance, fold *groupFold) []groupFrame {
	if p == nil || len(p.Groups) == 0 {
		return nil
	}
	var frames []groupFrame
	for _, name := range p.GroupNames() {
		if !fold.Open(name) {
			continue
		}
		members := map[string]bool{}
		for _, t := range p.GroupTasks(name) {
			members[t] = true
		}
		x1, y1, x2, y2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, b := range boxes {
			if members[b.ID] {
				x1, y1 = math.Min(x1, b.X), math.Min(y1, b.Y)
				x2, y2 = math.Max(x2, b.X+b.W), math.Max(y2, b.Y+b.H)
			}
		}
		if math.IsInf(x1, 1) {
			continue
		}
		fr := groupFrame{Name: name, X: x1 - framePad, Y: y1 - framePad, W: x2 - x1 + 2*framePad, H: y2 - y1 + 2*framePad,
			Title: name, State: string(groupState(p.GroupTasks(name), instances))}
		if d := p.Groups[name].Description; d != "" {
			fr.Title += " · " + d
		}
		if fold != nil {
			fr.Toggle = fold.Toggle(name)
		}
		clear := func(x, y, w, h float64) bool {
			for _, b := range boxes {
				if !members[b.ID] && b.X < x+w && x < b.X+b.W && b.Y < y+h && y < b.Y+b.H {
					return false
				}
			}
			for _, o := range frames {
				if o.X < x+w && x < o.X+o.W && o.Y-frameLabelH < y+h && y < o.Y+o.H {
					return false
				}
			}
			return y >= 0
		}
		if !clear(fr.X, fr.Y, fr.W, fr.H) {
			continue
		}
		fr.Label = clear(fr.X, fr.Y-frameLabelH, fr.W, frameLabelH)
		frames = append(frames, fr)
	}
	return frames
}

// groupedOrder puts the tasks of each group of p together, where the
// first of them is in order, each group after a "" entry naming it: the
// result is a list of (group, task) where task is "" for a group's head.
// Tasks in no group keep their place.
func groupedOrder(p *pipeline.Pipeline, order []string) []groupedItem {
	if p == nil || len(p.Groups) == 0 {
		items := make([]groupedItem, len(order))
		for i, t := range order {
			items[i] = groupedItem{Task: t}
		}
		return items
	}
	members := map[string][]string{}
	groupOf := func(t string) string {
		if pt := p.Tasks[t]; pt != nil {
			return pt.Group
		}
		return ""
	}
	for _, t := range order {
		if g := groupOf(t); g != "" {
			members[g] = append(members[g], t)
		}
	}
	var items []groupedItem
	done := map[string]bool{}
	for _, t := range order {
		g := groupOf(t)
		if g == "" {
			items = append(items, groupedItem{Task: t})
			continue
		}
		if done[g] {
			continue
		}
		done[g] = true
		items = append(items, groupedItem{Group: g})
		for _, m := range members[g] {
			items = append(items, groupedItem{Group: g, Task: m})
		}
	}
	return items
}

// groupedItem is a task (Task set), maybe in Group, or the head of Group
// (Task empty).
type groupedItem struct{ Group, Task string }
