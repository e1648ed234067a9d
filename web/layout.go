package web

import (
	"fmt"
	"math"
	"sort"
)

// Layout geometry of a DAG drawn left to right, in pixels.
const (
	layoutBoxH    = 38.0 // height of a task box
	layoutDummyH  = 6.0  // height of the slot an edge takes through a layer
	layoutGapX    = 64.0 // horizontal gap between layers
	layoutGapY    = 14.0 // vertical gap between slots in a layer
	layoutMargin  = 16.0
	layoutSweeps  = 6 // ordering sweeps (each one down and one up)
	layoutPlacing = 8 // vertical placement iterations
)

// Point is a point of the drawing.
type Point struct{ X, Y float64 }

// Box is a task placed in the drawing: its top-left corner, size, layer
// (longest path from a root) and order within the layer.
type Box struct {
	ID         string
	X, Y, W, H float64
	Layer      int
	Order      int
}

// Edge is a dependency drawn from the right side of From's box to the left
// side of To's, through Points: the start, the points where it crosses the
// layers between (each a pair: entering and leaving the layer), and the
// end. X never decreases along Points.
type Edge struct {
	From, To string
	Points   []Point
}

// Layout is a drawn DAG.
type Layout struct {
	Boxes         []Box
	Edges         []Edge
	Width, Height float64
}

// layoutDAG lays out a DAG left to right, in the manner of Sugiyama:
//
//  1. Layers: a task's layer is the length of the longest path to it from a
//     root, so every edge points to a later layer.
//  2. Edges that span several layers get a dummy node in every layer they
//     cross, so that they take a slot there and no box sits on them.
//  3. Order within each layer by the barycenter heuristic: sweeping down
//     the layers, each node moves to the mean position of its neighbours in
//     the previous layer; then up, by the next layer. The ordering with the
//     fewest edge crossings over all sweeps is kept.
//  4. Vertical placement: each node is pulled toward the mean height of its
//     neighbours, keeping the order and the gaps (an isotonic regression,
//     solved exactly by pooling adjacent violators), for a few iterations.
//
// ids are the tasks in a stable order (topological, as TopoOrder gives);
// deps maps a task to its upstream tasks; width gives a box's width. Deps
// on unknown ids are ignored, and a cycle (which parsing rejects) is
// broken where it is found, so the layout never fails.
func layoutDAG(ids []string, deps map[string][]string, width func(string) float64) Layout {
	if len(ids) == 0 {
		return Layout{Width: 2 * layoutMargin, Height: 2 * layoutMargin}
	}
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
	}

	// 1. Layers by longest path from a root.
	layerOf := make([]int, len(ids))
	state := make([]int8, len(ids)) // 0 new, 1 visiting, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return -1 // a cycle: ignore this edge
		case 2:
			return layerOf[i]
		}
		state[i] = 1
		l := 0
		for _, d := range deps[ids[i]] {
			if j, ok := index[d]; ok && j != i {
				if dl := visit(j); dl >= 0 && dl+1 > l {
					l = dl + 1
				}
			}
		}
		state[i] = 2
		layerOf[i] = l
		return l
	}
	nLayers := 0
	for i := range ids {
		if l := visit(i) + 1; l > nLayers {
			nLayers = l
		}
	}

	// 2. Nodes, real and dummy, and unit edges between adjacent layers.
	type node struct {
		id    string // empty for a dummy
		layer int
		w, h  float64
		pos   float64 // order within the layer, as a float for sorting
		y     float64 // center
		up    []int
		down  []int
	}
	nodes := make([]*node, 0, len(ids))
	for i, id := range ids {
		w := width(id)
		nodes = append(nodes, &node{id: id, layer: layerOf[i], w: w, h: layoutBoxH})
	}
	type chain struct {
		from, to int
		via      []int // dummy nodes, in layer order
	}
	var chains []chain
	for i, id := range ids {
		seen := map[int]bool{}
		for _, d := range deps[id] {
			j, ok := index[d]
			if !ok || j == i || seen[j] || layerOf[j] >= layerOf[i] {
				continue // unknown, self, duplicate or cycle-breaking edge
			}
			seen[j] = true
			c := chain{from: j, to: i}
			prev := j
			for l := layerOf[j] + 1; l < layerOf[i]; l++ {
				nodes = append(nodes, &node{layer: l, h: layoutDummyH})
				k := len(nodes) - 1
				c.via = append(c.via, k)
				nodes[prev].down = append(nodes[prev].down, k)
				nodes[k].up = append(nodes[k].up, prev)
				prev = k
			}
			nodes[prev].down = append(nodes[prev].down, i)
			nodes[i].up = append(nodes[i].up, prev)
			chains = append(chains, c)
		}
	}
	layers := make([][]int, nLayers)
	for k, n := range nodes {
		n.pos = float64(len(layers[n.layer]))
		layers[n.layer] = append(layers[n.layer], k)
	}

	// 3. Order by barycenters, keeping the best ordering seen.
	renumber := func(layer []int) {
		for o, k := range layer {
			nodes[k].pos = float64(o)
		}
	}
	sortLayer := func(layer []int, by func(n *node) []int) {
		bary := map[int]float64{}
		for _, k := range layer {
			nb := by(nodes[k])
			if len(nb) == 0 {
				bary[k] = nodes[k].pos
				continue
			}
			s := 0.0
			for _, m := range nb {
				s += nodes[m].pos
			}
			bary[k] = s / float64(len(nb))
		}
		sort.SliceStable(layer, func(a, b int) bool { return bary[layer[a]] < bary[layer[b]] })
		renumber(layer)
	}
	crossings := func() int {
		n := 0
		for l := 0; l+1 < nLayers; l++ {
			type seg struct{ a, b float64 }
			var segs []seg
			for _, k := range layers[l] {
				for _, m := range nodes[k].down {
					segs = append(segs, seg{nodes[k].pos, nodes[m].pos})
				}
			}
			for x := range segs {
				for y := x + 1; y < len(segs); y++ {
					if (segs[x].a-segs[y].a)*(segs[x].b-segs[y].b) < 0 {
						n++
					}
				}
			}
		}
		return n
	}
	snapshot := func() [][]int {
		s := make([][]int, nLayers)
		for l := range layers {
			s[l] = append([]int(nil), layers[l]...)
		}
		return s
	}
	best, bestN := snapshot(), crossings()
	for sweep := 0; sweep < layoutSweeps && bestN > 0; sweep++ {
		for l := 1; l < nLayers; l++ {
			sortLayer(layers[l], func(n *node) []int { return n.up })
		}
		if n := crossings(); n < bestN {
			best, bestN = snapshot(), n
		}
		for l := nLayers - 2; l >= 0; l-- {
			sortLayer(layers[l], func(n *node) []int { return n.down })
		}
		if n := crossings(); n < bestN {
			best, bestN = snapshot(), n
		}
	}
	layers = best
	for _, layer := range layers {
		renumber(layer)
	}

	// 4. Vertical placement: stack each layer, then pull nodes toward their
	// neighbours while keeping order and gaps.
	place := func(layer []int, want func(n *node) float64) {
		// Minimise sum (y_i - want_i)^2 with y_{i+1} >= y_i + gap_i: with
		// z_i = y_i - off_i this is an isotonic regression of want_i - off_i.
		off := make([]float64, len(layer))
		for o := 1; o < len(layer); o++ {
			a, b := nodes[layer[o-1]], nodes[layer[o]]
			off[o] = off[o-1] + a.h/2 + layoutGapY + b.h/2
		}
		target := make([]float64, len(layer))
		for o, k := range layer {
			target[o] = want(nodes[k]) - off[o]
		}
		z := isotonic(target)
		for o, k := range layer {
			nodes[k].y = z[o] + off[o]
		}
	}
	for _, layer := range layers {
		place(layer, func(n *node) float64 { return 0 })
	}
	mean := func(n *node, nb []int) float64 {
		if len(nb) == 0 {
			return n.y
		}
		s := 0.0
		for _, m := range nb {
			s += nodes[m].y
		}
		return s / float64(len(nb))
	}
	for it := 0; it < layoutPlacing; it++ {
		if it%2 == 0 {
			for l := 1; l < nLayers; l++ {
				place(layers[l], func(n *node) float64 { return mean(n, n.up) })
			}
		} else {
			for l := nLayers - 2; l >= 0; l-- {
				place(layers[l], func(n *node) float64 { return mean(n, n.down) })
			}
		}
	}
	for _, layer := range layers {
		place(layer, func(n *node) float64 { return (mean(n, n.up) + mean(n, n.down)) / 2 })
	}
	top := math.Inf(1)
	for _, n := range nodes {
		top = math.Min(top, n.y-n.h/2)
	}
	for _, n := range nodes {
		n.y += layoutMargin - top
	}

	// Columns: each layer is as wide as its widest box.
	colX := make([]float64, nLayers)
	colW := make([]float64, nLayers)
	for _, n := range nodes {
		colW[n.layer] = math.Max(colW[n.layer], n.w)
	}
	x := layoutMargin
	for l := range colX {
		colX[l] = x
		x += colW[l] + layoutGapX
	}
	out := Layout{Width: x - layoutGapX + layoutMargin}
	for _, n := range nodes {
		out.Height = math.Max(out.Height, n.y+n.h/2+layoutMargin)
	}
	for k := range ids {
		n := nodes[k]
		out.Boxes = append(out.Boxes, Box{
			ID: n.id, X: colX[n.layer] + (colW[n.layer]-n.w)/2, Y: n.y - n.h/2, W: n.w, H: n.h,
			Layer: n.layer, Order: int(n.pos),
		})
	}
	for _, c := range chains {
		from, to := out.Boxes[c.from], out.Boxes[c.to]
		pts := []Point{{from.X + from.W, from.Y + from.H/2}}
		for _, k := range c.via {
			n := nodes[k]
			pts = append(pts, Point{colX[n.layer], n.y}, Point{colX[n.layer] + colW[n.layer], n.y})
		}
		pts = append(pts, Point{to.X, to.Y + to.H/2})
		out.Edges = append(out.Edges, Edge{From: ids[c.from], To: ids[c.to], Points: pts})
	}
	return out
}

// isotonic returns the non-decreasing sequence closest to v in the least
// squares sense (pool adjacent violators).
func isotonic(v []float64) []float64 {
	type block struct {
		sum   float64
		count int
	}
	var blocks []block
	for _, x := range v {
		blocks = append(blocks, block{x, 1})
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum/float64(a.count) <= b.sum/float64(b.count) {
				break
			}
			blocks = blocks[:len(blocks)-2]
			blocks = append(blocks, block{a.sum + b.sum, a.count + b.count})
		}
	}
	out := make([]float64, 0, len(v))
	for _, b := range blocks {
		m := b.sum / float64(b.count)
		for i := 0; i < b.count; i++ {
			out = append(out, m)
		}
	}
	return out
}

// edgePath returns an SVG path through an edge's points: a curve with
// horizontal tangents from each layer to the next, and a straight line
// through each layer the edge crosses.
func edgePath(pts []Point) string {
	if len(pts) < 2 {
		return ""
	}
	b := make([]byte, 0, 64*len(pts))
	b = fmt.Appendf(b, "M%.1f %.1f", pts[0].X, pts[0].Y)
	for i := 1; i < len(pts); i++ {
		a, c := pts[i-1], pts[i]
		if i%2 == 0 { // inside a layer an edge crosses
			b = fmt.Appendf(b, " L%.1f %.1f", c.X, c.Y)
			continue
		}
		dx := (c.X - a.X) / 2
		b = fmt.Appendf(b, " C%.1f %.1f %.1f %.1f %.1f %.1f", a.X+dx, a.Y, c.X-dx, c.Y, c.X, c.Y)
	}
	return string(b)
}
