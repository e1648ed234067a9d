// Package yamlgen writes pipeline files of a given size and shape: honest
// ones, and the hostile shapes that make YAML readers do far more work
// than the size of the file suggests (deep nesting, wide maps and lists,
// aliases expanding many times). The limits tests of package pipeline and
// the parse-cost benchmark (bench/parse-cost.sh) read the same files.
package yamlgen

import (
	"fmt"
	"sort"
	"strings"
)

// shapes maps each shape's name to its writer; each writes about size
// bytes.
var shapes = map[string]func(b *strings.Builder, size int){
	// honest is a valid pipeline: a chain of small tasks.
	"honest": func(b *strings.Builder, size int) {
		b.WriteString("id: honest\ntasks:\n  t00000: {run: \"true\"}\n")
		for i := 1; b.Len() < size-64; i++ {
			fmt.Fprintf(b, "  t%05d: {run: \"echo %d\", depends_on: [t%05d]}\n", i, i, i-1)
		}
	},
	// cycles is a chain of tasks, each depending on the one before and the
	// one after: a dependency cycle between every two neighbours.
	"cycles": func(b *strings.Builder, size int) {
		b.WriteString("id: cycles\ntasks:\n  t00000: {run: x, depends_on: [t00001]}\n")
		for i := 1; b.Len() < size-64; i++ {
			fmt.Fprintf(b, "  t%05d: {run: x, depends_on: [t%05d, t%05d]}\n", i, i-1, i+1)
		}
		b.WriteString("  t99999: {run: x}\n")
	},
	// unknown-deps is tasks that each depend on a task that is not there,
	// one letter off an id that is.
	"unknown-deps": func(b *strings.Builder, size int) {
		b.WriteString("id: unknown\ntasks:\n")
		for i := 0; b.Len() < size-64; i++ {
			fmt.Fprintf(b, "  t%05d: {run: x, depends_on: [u%05d]}\n", i, i)
		}
	},
	// nested-flow is "x: [[[[…]]]]".
	"nested-flow": func(b *strings.Builder, size int) {
		n := (size - 16) / 2
		b.WriteString("id: p\nx: ")
		b.WriteString(strings.Repeat("[", n))
		b.WriteString(strings.Repeat("]", n))
		b.WriteString("\n")
	},
	// nested-flow-map is "x: {a: {a: {…}}}".
	"nested-flow-map": func(b *strings.Builder, size int) {
		n := (size - 16) / 5
		b.WriteString("id: p\nx: ")
		b.WriteString(strings.Repeat("{a: ", n))
		b.WriteString("1")
		b.WriteString(strings.Repeat("}", n))
		b.WriteString("\n")
	},
	// nested-block is "x:\n  - - - - …".
	"nested-block": func(b *strings.Builder, size int) {
		b.WriteString("id: p\nx:\n  ")
		b.WriteString(strings.Repeat("- ", (size-16)/2))
		b.WriteString("a\n")
	},
	// nested-indent nests block maps one space deeper per line, as deep as
	// the size allows.
	"nested-indent": func(b *strings.Builder, size int) {
		b.WriteString("id: p\n")
		for d := 0; b.Len()+d+3 < size; d++ {
			b.WriteString(strings.Repeat(" ", d))
			b.WriteString("a:\n")
		}
	},
	// wide-list is one flow list of one-letter items.
	"wide-list": func(b *strings.Builder, size int) {
		b.WriteString("id: p\nx: [")
		for b.Len() < size-4 {
			b.WriteString("a,")
		}
		b.WriteString("a]\n")
	},
	// wide-map is one block map of many keys: the shape that made the
	// previous YAML reader cost time quadratic in the number of keys.
	"wide-map": func(b *strings.Builder, size int) {
		b.WriteString("id: p\nx:\n")
		for i := 0; b.Len() < size-16; i++ {
			fmt.Fprintf(b, "  k%d: v\n", i)
		}
	},
	// documents is many small YAML documents.
	"documents": func(b *strings.Builder, size int) {
		b.WriteString("id: p\ntasks: {a: {run: x}}\n")
		for b.Len() < size-16 {
			b.WriteString("---\na: 1\n")
		}
	},
	// alias-bomb is a billion laughs: ten levels of lists of ten aliases of
	// the level below, 10^10 values when expanded, padded to size.
	"alias-bomb": func(b *strings.Builder, size int) {
		b.WriteString("id: p\nl0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
		for i := 1; i < 10; i++ {
			fmt.Fprintf(b, "l%d: &l%d [", i, i)
			for j := range 10 {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "*l%d", i-1)
			}
			b.WriteString("]\n")
		}
		b.WriteString("tasks:\n  a: {run: x, env: *l9}\n")
		pad(b, size)
	},
	// alias-heavy is the most aliasing a file may do: one anchored env
	// map of 1,000 variables used by 950 tasks, each use read again, just
	// under the limit of values counted with aliases expanded; padded to
	// size.
	"alias-heavy": func(b *strings.Builder, size int) {
		b.WriteString("id: p\ntasks:\n  t0:\n    run: x\n    env: &env\n")
		for i := range 1000 {
			fmt.Fprintf(b, "      V%d: v\n", i)
		}
		for i := 1; i < 950; i++ {
			fmt.Fprintf(b, "  t%d: {run: x, env: *env}\n", i)
		}
		pad(b, size)
	},
}

// pad fills b up to size with a comment.
func pad(b *strings.Builder, size int) {
	for b.Len() < size-2 {
		b.WriteString("# " + strings.Repeat("x", min(78, max(size-b.Len()-3, 0))) + "\n")
	}
}

// Shapes returns the names of the shapes, sorted.
func Shapes() []string {
	names := make([]string, 0, len(shapes))
	for name := range shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Generate writes a pipeline file of the shape named, of about size bytes
// (never more).
func Generate(shape string, size int) ([]byte, error) {
	gen, ok := shapes[shape]
	if !ok {
		return nil, fmt.Errorf("unknown shape %q; the shapes are %s", shape, strings.Join(Shapes(), ", "))
	}
	var b strings.Builder
	b.Grow(size)
	gen(&b, size)
	return []byte(b.String()), nil
}
