package secret

import "sort"

// automaton finds the forms of the secrets in a text in one pass over it,
// whatever their number: an Aho-Corasick automaton, a trie of the forms in
// which each node also links to the longest proper suffix of its string
// that is a node too (fail). Reading a byte follows at most one edge down,
// and over a text as many fail links as edges, so a text of n bytes costs
// at most 2n steps; each step searches the few edges of a node.
//
// The node reached after a text's first i bytes is the longest suffix of
// them that begins some form. Its depth is what a cut mark at i leaves of a
// secret, found in one step for every mark (the Masker used to try every
// form's beginnings at every mark: a line of "…" cost forms × marks).
type automaton struct {
	nodes []node
	edges []edge // the edges of each node, sorted by byte
	// root are the root's edges, as a table: the root is where the reading
	// is at most of the time.
	root [256]int32
}

type node struct {
	first, n int32 // edges[first:first+n]
	fail     int32
	depth    int32
	// out is the length of the longest form that ends here: this node's
	// string, or a suffix of it; 0 if none.
	out int32
}

type edge struct {
	b  byte
	to int32
}

func newAutomaton(forms []string) *automaton {
	// The trie, built from the forms in order: each form shares with the
	// one before the nodes of their common beginning and adds the rest, so
	// a node's children come in the order of their bytes, and no search is
	// needed.
	sorted := append([]string(nil), forms...)
	sort.Strings(sorted)
	size, prev := 1, ""
	for _, f := range sorted {
		size += len(f) - commonPrefix(prev, f)
		prev = f
	}
	var (
		label       = make([]byte, 1, size)
		first, last = make([]int32, 1, size), make([]int32, 1, size) // children: first, last
		sibling     = make([]int32, 1, size)                         // the next child of the parent
		out         = make([]int32, 1, size)
		depth       = make([]int32, 1, size)
		path        = []int32{0} // the nodes of the form before
	)
	prev = ""
	for _, f := range sorted {
		k := commonPrefix(prev, f)
		path = path[:k+1]
		for i := k; i < len(f); i++ {
			parent, child := path[i], int32(len(label))
			label, sibling, out = append(label, f[i]), append(sibling, 0), append(out, 0)
			first, last, depth = append(first, 0), append(last, 0), append(depth, int32(i+1))
			if first[parent] == 0 {
				first[parent] = child
			} else {
				sibling[last[parent]] = child
			}
			last[parent] = child
			path = append(path, child)
		}
		out[path[len(f)]] = int32(len(f))
		prev = f
	}

	a := &automaton{nodes: make([]node, len(label)), edges: make([]edge, 0, len(label))}
	// Breadth first: a node's fail link is shallower, so its edges are in
	// place when the node's children need them.
	queue := make([]int32, 1, len(label))
	for q := 0; q < len(queue); q++ {
		at := queue[q]
		nd := &a.nodes[at]
		nd.first, nd.depth = int32(len(a.edges)), depth[at]
		if nd.out = out[at]; nd.out == 0 && at != 0 {
			nd.out = a.nodes[nd.fail].out
		}
		for c := first[at]; c != 0; c = sibling[c] {
			a.edges = append(a.edges, edge{label[c], c})
			queue = append(queue, c)
		}
		nd.n = int32(len(a.edges)) - nd.first
		for _, e := range a.edges[nd.first:] {
			if at == 0 {
				a.root[e.b] = e.to
			} else {
				a.nodes[e.to].fail = a.next(nd.fail, e.b)
			}
		}
	}
	return a
}

// commonPrefix returns the length of the longest common beginning of a and
// b.
func commonPrefix(a, b string) int {
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	return k
}

// next returns the node reached from node at by reading b.
func (a *automaton) next(at int32, b byte) int32 {
	for at != 0 {
		if to := a.child(at, b); to > 0 {
			return to
		}
		at = a.nodes[at].fail
	}
	return a.root[b]
}

// child returns the node an edge of at labelled b leads to, or 0.
func (a *automaton) child(at int32, b byte) int32 {
	nd := &a.nodes[at]
	es := a.edges[nd.first : nd.first+nd.n]
	if len(es) <= 8 {
		for _, e := range es {
			if e.b == b {
				return e.to
			}
		}
		return 0
	}
	i := sort.Search(len(es), func(i int) bool { return es[i].b >= b })
	if i < len(es) && es[i].b == b {
		return es[i].to
	}
	return 0
}
