// Package expression evaluates the ${{ … }} expressions of pipeline files
// with github.com/expr-lang/expr: conditions (when:), lists (for_each:),
// and templates in text fields (env values, HTTP fields, sub-pipeline
// params). Values reach a shell script only through environment
// variables, never by splicing text into the script.
//
// The environment of an expression:
//
//	params.<name>                   the run's params (typed)
//	run.id, run.key, run.logical_date, run.ds, run.pipeline
//	tasks.<id>.outputs.<key>        outputs of an upstream task (text; use
//	                                int(), float() or fromJSON() to convert;
//	                                a mapped task's outputs are JSON arrays)
//	vars.<name>                     variables (sluice vars set)
//	secrets.<name>                  a secret the task lists, in text
//	                                fields only (env values, http:)
//	item, item_index                the item of a mapped task
package expression

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Program is a compiled expression.
type Program struct {
	src  string
	prog *vm.Program
}

// Compile compiles one expression. A surrounding ${{ }} is optional.
//
// Workers render the same fields for every attempt of a task and every
// item of a mapped one: compiling took about 40 µs an expression, a
// task with three templated fields mapped over 100,000 items 35 s of
// CPU. So compiled expressions are kept, by their text, up to
// compiledMax of them (about 2 kB each); a Program is only read once
// made (expr's programs run in a VM of each call's own), so one serves
// every goroutine.
func Compile(src string) (*Program, error) {
	if c, ok := compiled.Load(src); ok {
		r := c.(compiledResult)
		return r.p, r.err
	}
	p, err := compile(src)
	if compiledN.Add(1) > compiledMax {
		// Texts come from pipeline versions, which change: start over
		// rather than keep every text ever seen.
		compiled.Clear()
		compiledN.Store(1)
	}
	compiled.Store(src, compiledResult{p, err})
	return p, err
}

const compiledMax = 2048

var (
	compiled  sync.Map // text → compiledResult
	compiledN atomic.Int64
)

type compiledResult struct {
	p   *Program
	err error
}

func compile(src string) (*Program, error) {
	code := strings.TrimSpace(src)
	if inner, ok := whole(code); ok {
		code = inner
	}
	if code == "" {
		return nil, fmt.Errorf("the expression is empty")
	}
	p, err := expr.Compile(code)
	if err != nil {
		return nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	return &Program{src: code, prog: p}, nil
}

// whole reports whether s is exactly one ${{ … }} and returns its inside.
func whole(s string) (string, bool) {
	if !strings.HasPrefix(s, "${{") || !strings.HasSuffix(s, "}}") {
		return "", false
	}
	inner := s[3 : len(s)-2]
	if strings.Contains(inner, "${{") || strings.Contains(inner, "}}") {
		return "", false
	}
	return strings.TrimSpace(inner), true
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Source returns the expression's code.
func (p *Program) Source() string { return p.src }

// Eval runs the expression in env.
func (p *Program) Eval(env map[string]any) (any, error) {
	out, err := expr.Run(p.prog, env)
	if err != nil {
		return nil, fmt.Errorf("${{ %s }}: %s", p.src, firstLine(err.Error()))
	}
	return out, nil
}

// Bool runs a condition. Its result must be a boolean.
func (p *Program) Bool(env map[string]any) (bool, error) {
	out, err := p.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("${{ %s }} is %v (%T), not true or false", p.src, out, out)
	}
	return b, nil
}

// Template is text with ${{ … }} expressions in it.
type Template struct {
	parts []part
}

type part struct {
	text string
	prog *Program
}

var placeholder = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// ParseTemplate compiles every expression of a text.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			t.parts = append(t.parts, part{text: s[last:m[0]]})
		}
		p, err := Compile(s[m[2]:m[3]])
		if err != nil {
			return nil, fmt.Errorf("in ${{%s}}: %w", s[m[2]:m[3]], err)
		}
		t.parts = append(t.parts, part{prog: p})
		last = m[1]
	}
	if last < len(s) {
		t.parts = append(t.parts, part{text: s[last:]})
	}
	if rest := s[last:]; strings.Contains(rest, "${{") {
		return nil, fmt.Errorf("${{ is not closed with }}")
	}
	return t, nil
}

// HasExpressions reports whether s contains ${{ … }}.
func HasExpressions(s string) bool { return strings.Contains(s, "${{") }

// Render evaluates the template's expressions in env and joins the text.
// A string value is inserted as it is; other values as JSON-like text.
func (t *Template) Render(env map[string]any) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := p.prog.Eval(env)
		if err != nil {
			return "", err
		}
		b.WriteString(Text(v))
	}
	return b.String(), nil
}

// Render renders a text with ${{ … }} in env; text without expressions is
// returned as it is.
func Render(s string, env map[string]any) (string, error) {
	if !HasExpressions(s) {
		return s, nil
	}
	t, err := ParseTemplate(s)
	if err != nil {
		return "", err
	}
	return t.Render(env)
}

// Text renders a value for a text field or an environment variable.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

var taskRef = regexp.MustCompile(`\btasks\.([A-Za-z0-9_][A-Za-z0-9_-]*)`)

// TaskRefs returns the task ids an expression or template text mentions as
// tasks.<id>, sorted.
func TaskRefs(s string) []string {
	seen := map[string]bool{}
	for _, m := range taskRef.FindAllStringSubmatch(s, -1) {
		seen[m[1]] = true
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Members returns the names an expression, or the expressions of a
// template text, look up in the variable root: secrets.X and
// secrets["X"] name X. dynamic is true when it uses root any other way
// (secrets[params.name], or secrets alone), so that what it reads cannot
// be known before it runs. Text that does not compile names nothing.
func Members(s, root string) (names []string, dynamic bool) {
	var progs []*Program
	if t, err := ParseTemplate(s); err == nil && HasExpressions(s) {
		for _, p := range t.parts {
			if p.prog != nil {
				progs = append(progs, p.prog)
			}
		}
	} else if p, err := Compile(s); err == nil {
		progs = append(progs, p)
	}
	seen := map[string]bool{}
	for _, p := range progs {
		v := &memberVisitor{root: root, seen: seen}
		tree := p.prog.Node()
		ast.Walk(&tree, v)
		dynamic = dynamic || v.uses > v.named
	}
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, dynamic
}

// memberVisitor finds the uses of one variable in an expression's tree.
type memberVisitor struct {
	root string
	seen map[string]bool
	// uses counts the identifiers that are root; named those of them
	// that are root.X or root["X"].
	uses, named int
}

func (v *memberVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == v.root {
			v.uses++
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != v.root {
			return
		}
		if prop, ok := n.Property.(*ast.StringNode); ok {
			v.seen[prop.Value] = true
			v.named++
		}
	}
}
