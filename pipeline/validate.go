package pipeline

import (
	"sort"
	"strings"

	"github.com/sluice-dev/sluice"
)

// checkGraph reports dependencies on unknown tasks, tasks that depend on
// themselves and dependency cycles. It numbers the tasks in the order of
// their ids and builds the graph on the numbers directly: a map of edges
// per task costs more than the tasks themselves in a big file.
func (p *parser) checkGraph(tasks []*rawTask) {
	ids := make([]string, 0, len(tasks))
	for _, t := range tasks {
		ids = append(ids, t.id)
	}
	sort.Strings(ids)
	num := make(map[string]int, len(ids))
	for i, id := range ids {
		num[id] = i
	}
	// allIDs is the hint for an unknown name, made on the first one.
	var hintAll string
	allIDs := func() string {
		if hintAll == "" {
			hintAll = "the tasks are " + listIDs(ids)
		}
		return hintAll
	}
	// Suggestions compare a name with every task id; past the first few
	// unknown names the plain hint does, so a file of many bad names
	// costs time linear in its size.
	suggestions := maxSuggestions
	g := &graph{names: ids, adj: make([][]int, len(ids))}
	// byNum[i] is task i, whose depends_on says where each edge is written.
	byNum := make([]*rawTask, len(ids))
	for _, t := range tasks {
		a := num[t.id]
		byNum[a] = t
		for _, d := range t.deps {
			b, known := num[d.id]
			switch {
			case d.id == t.id:
				p.errorf(d.at, "remove it from depends_on: a task cannot wait for itself",
					"task %s depends on itself", quoteShort(t.id))
			case !known:
				hint := allIDs()
				if suggestions > 0 {
					suggestions--
					hint = didYouMean(d.id, ids, hint)
				}
				p.errorf(d.at, hint, "task %s depends on unknown task %s", quoteShort(t.id), quoteShort(d.id))
			default:
				g.adj[a] = append(g.adj[a], b)
			}
		}
		sort.Ints(g.adj[a])
	}
	// edgeAt is where a's depends_on names b.
	edgeAt := func(a, b string) pos {
		for _, d := range byNum[num[a]].deps {
			if d.id == b {
				return d.at
			}
		}
		return pos{}
	}
	cycles, more := g.cycles(maxCycles)
	for _, c := range cycles {
		last := c[len(c)-2]
		p.errorf(edgeAt(last, c[0]), `"a -> b" means a depends on b; remove one of these depends_on entries to break the cycle`,
			"dependency cycle: %s", strings.Join(c, " -> "))
	}
	if len(more) > 0 {
		comp := more[0]
		in := map[string]bool{}
		for _, v := range comp {
			in[v] = true
		}
		var deps []string
		for _, d := range byNum[num[comp[0]]].deps {
			deps = append(deps, d.id)
		}
		sort.Strings(deps)
		var at pos
		for _, b := range deps {
			if in[b] && b != comp[0] {
				at = edgeAt(comp[0], b)
				break
			}
		}
		n := 0
		for _, c := range more {
			n += len(c)
		}
		p.errorf(at, "break the cycles above and validate again to see the rest",
			"more dependency cycles, among %d tasks such as %s", n, listIDs(comp))
	}
}

// Bounds on the work of reporting graph errors, which would otherwise grow
// with the square of the tasks of a file full of them.
const (
	// maxSuggestions is how many unknown task names get a "did you mean".
	maxSuggestions = 20
	// maxCycles is how many dependency cycles are reported one by one.
	maxCycles = 10
)

// listIDs lists task ids for a hint, cut short when there are many.
func listIDs(ids []string) string {
	s := sorted(ids)
	more := len(s) > 10
	if more {
		s = s[:10]
	}
	for i := range s {
		s[i] = quoteShort(s[i])
	}
	if more {
		return strings.Join(s, ", ") + ", …"
	}
	return strings.Join(s, ", ")
}

// findCycles returns dependency cycles, each as a path that starts and ends
// at the same task, such that removing the last edge of every returned
// cycle leaves the graph without cycles. Each cycle is reported once, and
// the result depends only on the graph: in each strongly connected
// component the cycle starts at the smallest id and is the shortest one
// back to it (ties broken by id). Each round costs time linear in the
// graph, so it stops after limit cycles and returns the components that
// still hold cycles as more.
func findCycles(edges map[string]map[string]pos, limit int) (cycles [][]string, more [][]string) {
	return newGraph(edges).cycles(limit)
}

// cycles is findCycles on g; it removes the last edge of each cycle it
// returns from g. Tasks without edges are left alone.
func (g *graph) cycles(limit int) (cycles [][]string, more [][]string) {
	names := func(vs []int) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = g.names[v]
		}
		return out
	}
	for len(cycles) < limit {
		found := false
		for _, comp := range g.components() {
			if len(comp) < 2 || len(cycles) >= limit {
				continue
			}
			c := g.shortestCycle(comp)
			cycles = append(cycles, names(c))
			g.removeEdge(c[len(c)-2], c[0])
			found = true
		}
		if !found {
			return cycles, nil
		}
	}
	for _, comp := range g.components() {
		if len(comp) > 1 {
			more = append(more, names(comp))
		}
	}
	return cycles, more
}

// graph is the dependency graph on task numbers: names[i] is task i's id,
// in sorted order, so comparing numbers compares ids; adj[i] lists, in
// order, the tasks i depends on.
type graph struct {
	names []string
	adj   [][]int
}

func newGraph(edges map[string]map[string]pos) *graph {
	seen := map[string]bool{}
	for a, bs := range edges {
		seen[a] = true
		for b := range bs {
			seen[b] = true
		}
	}
	g := &graph{names: sortedKeys(seen)}
	num := make(map[string]int, len(g.names))
	for i, n := range g.names {
		num[n] = i
	}
	g.adj = make([][]int, len(g.names))
	for a, bs := range edges {
		out := make([]int, 0, len(bs))
		for b := range bs {
			out = append(out, num[b])
		}
		sort.Ints(out)
		g.adj[num[a]] = out
	}
	return g
}

// removeEdge removes a -> b.
func (g *graph) removeEdge(a, b int) {
	out := g.adj[a][:0]
	for _, x := range g.adj[a] {
		if x != b {
			out = append(out, x)
		}
	}
	g.adj[a] = out
}

// shortestCycle returns the shortest path from the smallest task of comp
// back to itself, staying inside comp.
func (g *graph) shortestCycle(comp []int) []int {
	in := make([]bool, len(g.names))
	for _, v := range comp {
		in[v] = true
	}
	start := comp[0]
	prev := make([]int, len(g.names))
	for i := range prev {
		prev[i] = -1
	}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.adj[v] {
			if !in[w] {
				continue
			}
			if w == start {
				path := []int{start}
				for x := v; x != start; x = prev[x] {
					path = append(path, x)
				}
				// path is start, v, …, reversed after the first element.
				rev := []int{start}
				for i := len(path) - 1; i >= 1; i-- {
					rev = append(rev, path[i])
				}
				return append(rev, start)
			}
			if prev[w] < 0 && w != start {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil // unreachable for a strongly connected comp of size > 1
}

// components returns the strongly connected components of the graph
// (Tarjan's algorithm), each sorted, in order of their smallest task.
func (g *graph) components() [][]int {
	n := len(g.names)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var comps [][]int
	next := 0
	// Iterative, so a long chain of tasks cannot overflow the stack.
	type frame struct{ v, i int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		calls := []frame{{v: root}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			if f.i < len(g.adj[f.v]) {
				w := g.adj[f.v][f.i]
				f.i++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{v: w})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				var comp []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				sort.Ints(comp)
				comps = append(comps, comp)
			}
		}
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i][0] < comps[j][0] })
	return comps
}

// TopoOrder returns the task ids of p so that every task comes after the
// tasks it depends on; among tasks that could come next, the smallest id
// comes first, so the order is the same every time. Tasks in a dependency
// cycle (which Parse rejects) come last, sorted by id.
func (p *Pipeline) TopoOrder() []string {
	tasks := make(map[string]bool, len(p.Tasks))
	for id := range p.Tasks {
		tasks[id] = true
	}
	return sluice.TopoOrder(tasks, p.downstream())
}

// Downstream returns the ids of the tasks that depend directly on taskID,
// sorted; nil when there are none.
func (p *Pipeline) Downstream(taskID string) []string {
	return p.downstream()[taskID]
}

// downstream maps each task id to the sorted ids of the tasks that depend
// on it directly.
func (p *Pipeline) downstream() map[string][]string {
	down := map[string][]string{}
	for id, t := range p.Tasks {
		for _, d := range t.DependsOn {
			if d != id {
				down[d] = append(down[d], id)
			}
		}
	}
	for _, ids := range down {
		sort.Strings(ids)
	}
	return down
}
