package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// Limits on the work of reading one pipeline file. A file is read whole by
// the YAML reader before any of sluice's checks, and the same bytes come
// from the pipelines folder, the API and the UI, so these bounds are what
// keep a hostile file (deep nesting, a billion laughs of aliases, sheer
// size) from costing more than an honest file of the same size.
const (
	// MaxFileSize is the largest pipeline file, in bytes. A 40,000-task
	// pipeline fits in about a quarter of it.
	MaxFileSize = 4 << 20
	// maxNesting is how deep maps and lists may nest; pipeline files nest
	// about eight levels deep.
	maxNesting = 64
	// aliasAllowance is how many values aliases may add to a file beyond
	// as many as the file writes out: the walk reads an aliased value once
	// per use, so this bounds its work to about twice that of a file
	// without aliases, plus a constant.
	aliasAllowance = 100_000
)

const nestingHint = "pipeline files nest a few levels deep; flatten the value, or write it as text"

// sizeText writes a byte count for people.
func sizeText(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// ReadFile reads a pipeline file, but no more than one byte past
// MaxFileSize: a huge file costs no more memory than the limit, and Parse
// reports it as too large.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// withinLimits checks the nesting of the document under root and the
// values its aliases add, reporting the first value past a limit. The YAML
// reader has bounded nesting to 10,000 levels and its cost is linear, so
// one walk with a memo per anchor is cheap.
func (p *parser) withinLimits(root *yaml.Node) bool {
	l := limitWalk{sizes: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	l.walk(root, 1)
	switch {
	case l.deep != nil:
		p.errorf(posOf(l.deep), nestingHint, "nesting deeper than %d levels", maxNesting)
		return false
	case l.cycle != nil:
		p.errorf(posOf(l.cycle), "an anchored value cannot contain an alias of itself",
			"alias *%s is used inside the value it refers to", l.cycle.Value)
		return false
	}
	p.values = l.literal
	budget, added := l.literal+aliasAllowance, 0
	for _, u := range l.uses {
		if added += u.size; added > budget {
			p.errorf(posOf(u.alias), "use fewer aliases of large values: put settings shared by tasks under defaults:",
				"aliases here make the file hold %d more values than it writes out; at most %d are allowed", added, budget)
			return false
		}
	}
	return true
}

// limitWalk walks a document in order, counting the values it writes out
// and what each alias adds.
type limitWalk struct {
	// sizes is the size of each anchored value walked so far, with the
	// aliases inside it expanded.
	sizes map[*yaml.Node]int
	// open holds the anchored values being walked, to catch an alias
	// inside the value it refers to.
	open map[*yaml.Node]bool
	// literal counts the values written out.
	literal int
	uses    []aliasUse
	deep    *yaml.Node
	cycle   *yaml.Node
}

// aliasUse is one alias and how many values it stands for.
type aliasUse struct {
	alias *yaml.Node
	size  int
}

// sizeCap keeps expanded sizes from overflowing: nested aliases multiply.
const sizeCap = 1 << 40

// walk returns the size of n, aliases expanded; n sits at the given depth.
func (l *limitWalk) walk(n *yaml.Node, depth int) int {
	if l.deep != nil || l.cycle != nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		size, ok := l.sizes[n.Alias]
		if !ok || l.open[n.Alias] {
			// An alias of a value still being walked: the anchor contains
			// the alias (an alias always follows its anchor).
			l.cycle = n
			return 0
		}
		l.uses = append(l.uses, aliasUse{n, size})
		return size
	}
	if (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && depth > maxNesting {
		l.deep = n
		return 0
	}
	if n.Anchor != "" {
		l.open[n] = true
		defer delete(l.open, n)
	}
	l.literal++
	size := 1
	for _, c := range n.Content {
		size = min(size+l.walk(c, depth+1), sizeCap)
	}
	if n.Anchor != "" {
		l.sizes[n] = size
	}
	return size
}

// deepAt finds where flow brackets or compact "- " entries first nest
// deeper than limit, for the YAML reader's own depth error, which names a
// line at best. It skips quoted text and comments; it is not a YAML reader,
// so when it finds nothing it returns fallback.
func deepAt(src []byte, limit int, fallback pos) pos {
	line, col := 1, 1
	// base is one for a document that is a block map, which nests what
	// its keys hold one level deeper; flow counts open brackets.
	base, flow := 0, 0
	if first := bytes.TrimLeft(src, " \t\r\n"); len(first) > 0 && !bytes.ContainsRune([]byte("[{-#%"), rune(first[0])) {
		base = 1
	}
	block := 0   // compact "- " entries that start the line
	lead := true // nothing but spaces and "- " so far on this line
	var quote byte
	comment := false
	prev := byte('\n')
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line, col, block, comment, lead = line+1, 0, 0, false, true
			if quote == 0 {
				prev = c
			}
		case comment:
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
				col++
			} else if c == quote {
				quote = 0
			}
		case c == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			comment = true
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			flow++
			if base+flow+block > limit {
				return pos{line, col}
			}
		case c == ']' || c == '}':
			flow = max(flow-1, 0)
		case c == '-' && lead && flow == 0 && (i+1 == len(src) || src[i+1] == ' ' || src[i+1] == '\n'):
			block++
			if base+flow+block > limit {
				return pos{line, col}
			}
		}
		if c != ' ' && c != '-' && c != '\n' {
			lead = false
		}
		if c != '\n' {
			prev = c
		}
		col++
	}
	return fallback
}
