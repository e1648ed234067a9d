package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"
)

// idPattern is what pipeline and task ids look like.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

const idHint = "use up to 128 letters, digits, _, . and -, starting with a letter, digit or _"

// topKeys are the keys of a pipeline file.
var topKeys = []string{
	"id", "description", "schedule", "timezone", "start", "end", "catchup",
	"max_active_runs", "max_active_tasks", "retention", "params", "defaults", "on_success", "on_failure", "tasks",
}

// Defaults of a pipeline.
const (
	defaultTimezone      = "UTC"
	defaultMaxActiveRuns = 16
)

// Parse parses and validates one pipeline file and returns it in normalized
// form. name is the path shown in error positions. When the file has
// problems, the error is an ErrorList with every problem found, sorted by
// position.
func Parse(name string, src []byte) (*Pipeline, error) {
	p := &parser{file: name, anchors: map[string][]anchorDef{}}
	pl := p.parse(src)
	if len(p.errs) > 0 {
		return nil, p.result()
	}
	return pl, nil
}

// ParseFile reads the pipeline file at path and parses it with Parse. It
// returns the source bytes too, even when they do not parse, so a caller
// can store them along with the errors.
func ParseFile(path string) (*Pipeline, []byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: %w", err)
	}
	pl, err := Parse(path, src)
	return pl, src, err
}

// parser holds the state of one Parse.
type parser struct {
	file    string
	errs    ErrorList
	anchors map[string][]anchorDef
	// paramAt is where each param is declared.
	paramAt map[string]pos
	// exprSink collects the expression fields of the task or defaults
	// being read.
	exprSink *[]exprRef
	// secretsOK is set while reading the fields where ${{ secrets.X }}
	// may be used: a task's env: and http: (url, headers, body).
	secretsOK bool
}

// file is what the walk of a pipeline file collects before the checks that
// need the whole file (time zone, dates, defaults, the task graph).
type file struct {
	pl       *Pipeline
	rootAt   pos
	tzAt     pos
	start    *entry
	end      *entry
	tasksKey *entry
	defaults settings
	tasks    []*rawTask
}

// result sorts the errors and drops repeats (an alias used twice can report
// the same problem twice).
func (p *parser) result() ErrorList {
	p.errs.sort()
	out := p.errs[:0]
	for i, e := range p.errs {
		if i > 0 && *e == *p.errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

var utf8BOM = []byte("\xef\xbb\xbf")

// parse checks the file and returns the pipeline; the caller discards the
// pipeline when errors were reported.
func (p *parser) parse(src []byte) *Pipeline {
	src = bytes.TrimPrefix(src, utf8BOM)
	if !utf8.Valid(src) {
		p.errorf(invalidUTF8At(src), "save the file as UTF-8", "the file is not valid UTF-8 text")
		return nil
	}
	if len(bytes.TrimSpace(src)) == 0 {
		p.errorf(pos{1, 1}, "a pipeline needs at least id: and tasks:", "file is empty")
		return nil
	}
	doc, ok := p.document(src)
	if !ok {
		return nil
	}
	root := p.resolve(doc)
	if root == nil {
		return nil
	}
	if _, ok := root.(*ast.MappingNode); !ok {
		p.errorf(posOf(doc), "start the file with keys such as id: and tasks:",
			"a pipeline file must be a map of keys, not %s", describe(root))
		return nil
	}
	f := &file{
		pl: &Pipeline{
			Timezone:      defaultTimezone,
			MaxActiveRuns: defaultMaxActiveRuns,
		},
		rootAt: posOf(root),
	}
	p.top(f, root)
	p.finish(f)
	return f.pl
}

// document parses the YAML and returns the body of its one document.
func (p *parser) document(src []byte) (body ast.Node, ok bool) {
	af, err := parseYAML(src)
	if err != nil {
		p.syntaxError(err)
		return nil, false
	}
	var docs []*ast.DocumentNode
	for _, d := range af.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, isDirective := d.Body.(*ast.DirectiveNode); isDirective {
			continue
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		p.errorf(pos{1, 1}, "a pipeline needs at least id: and tasks:", "file is empty")
		return nil, false
	}
	for _, d := range docs[1:] {
		at := posOf(d.Body)
		if d.Start != nil && d.Start.Position != nil {
			at = pos{d.Start.Position.Line, d.Start.Position.Column}
		}
		p.errorf(at, "put each pipeline in a file of its own",
			"a pipeline file must hold one YAML document, but a second one starts here")
	}
	for _, d := range docs {
		p.collectAnchors(d.Body, 0)
	}
	return docs[0].Body, true
}

// parseYAML runs the YAML parser, turning a panic inside it into an error
// so that no input can crash the caller. Duplicate keys are allowed here
// because the walk reports them with both positions.
func parseYAML(src []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this file: %v", r)
		}
	}()
	return yamlparser.ParseBytes(src, 0, yamlparser.AllowDuplicateMapKey())
}

// syntaxError reports a YAML syntax error at the position the YAML parser
// gives.
func (p *parser) syntaxError(err error) {
	at := pos{1, 1}
	msg := err.Error()
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			at = pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
		}
	}
	p.errorf(at, syntaxHint(msg), "invalid YAML: %s", msg)
}

// syntaxHint suggests a fix for the YAML mistakes people make most.
func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "'\t'"):
		return "indent with spaces; YAML does not allow tabs there"
	case strings.Contains(msg, "double-quoted"), strings.Contains(msg, "single-quoted"):
		return "close the quote at the end of the value"
	case strings.Contains(msg, "']'"), strings.Contains(msg, "'}'"):
		return "close the bracket, or write the list or map one item per line"
	case strings.Contains(msg, "not allowed in this context"), strings.Contains(msg, "non-map value"):
		return `check the indentation: keys of one map line up, and a value that contains ": " must be quoted`
	}
	return ""
}

// invalidUTF8At returns the position of the first byte of src that is not
// UTF-8.
func invalidUTF8At(src []byte) pos {
	at := pos{1, 1}
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if r == utf8.RuneError && size <= 1 {
			return at
		}
		if r == '\n' {
			at = pos{at.line + 1, 1}
		} else {
			at.col++
		}
		src = src[size:]
	}
	return at
}

// top walks the keys of the pipeline file.
func (p *parser) top(f *file, root ast.Node) {
	ents, _ := p.entries(entry{val: root, valAt: f.rootAt}, "pipeline", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q (first defined at line %d)", key, first.line), "remove one of them"
	})
	pl := f.pl
	seen := map[string]bool{}
	for _, e := range ents {
		seen[e.key] = true
		switch e.key {
		case "id":
			if s, ok := p.str(e, "id"); ok {
				if !idPattern.MatchString(s) {
					p.errorf(e.valAt, idHint, "id %s is not a valid pipeline id", quoteShort(s))
				}
				pl.ID = s
			}
		case "description":
			pl.Description, _ = p.str(e, "description")
		case "schedule":
			if s, ok := p.str(e, "schedule"); ok {
				pl.Schedule = p.schedule(e, s)
			}
		case "timezone":
			if s, ok := p.str(e, "timezone"); ok {
				pl.Timezone = p.timezone(e, s)
			}
		case "start":
			f.start = &e
		case "end":
			f.end = &e
		case "catchup":
			pl.Catchup, _ = p.boolean(e, "catchup")
		case "max_active_runs":
			if n, ok := p.integer(e, "max_active_runs"); ok {
				if n < 1 {
					p.errorf(e.valAt, "at least one run must be allowed at a time", "max_active_runs: must be 1 or more, got %d", n)
				} else {
					pl.MaxActiveRuns = n
				}
			}
		case "max_active_tasks":
			if n, ok := p.integer(e, "max_active_tasks"); ok {
				if n < 0 {
					p.errorf(e.valAt, "use 0 for no limit", "max_active_tasks: must be 0 or more, got %d", n)
				} else {
					pl.MaxActiveTasks = n
				}
			}
		case "retention":
			if d, ok := p.duration(e, "retention"); ok {
				if d > 0 && d.D() < time.Hour {
					p.errorf(e.valAt, `keep runs at least an hour, e.g. "7d"`, "retention: %s is too short", d)
				} else {
					pl.Retention = d
				}
			}
		case "on_success":
			pl.OnSuccess = p.action(e, "on_success")
		case "on_failure":
			pl.OnFailure = p.action(e, "on_failure")
		case "params":
			pl.Params = p.params(e)
		case "defaults":
			p.defaults(f, e)
		case "tasks":
			f.tasksKey = &e
			p.tasks(f, e)
		default:
			p.errorf(e.keyAt, didYouMean(e.key, topKeys, "the keys of a pipeline are "+strings.Join(topKeys, ", ")),
				"unknown key %s at the top level", quoteShort(e.key))
		}
	}
	if !seen["id"] {
		p.errorf(f.rootAt, "add a line such as: id: daily_orders", `missing required key "id"`)
	}
	if !seen["tasks"] {
		p.errorf(f.rootAt, "add tasks:, e.g. tasks: {hello: {run: echo hello}}", `missing required key "tasks"`)
	}
}

// finish runs the checks that need the whole file and builds the tasks.
func (p *parser) finish(f *file) {
	loc := zoneOrUTC(f.pl.Timezone)
	if f.start != nil {
		f.pl.Start = p.date(*f.start, "start", loc)
	}
	if f.end != nil {
		f.pl.End = p.date(*f.end, "end", loc)
	}
	if f.pl.Start != nil && f.pl.End != nil && !f.pl.End.After(*f.pl.Start) {
		p.errorf(f.end.valAt, "set end: to a later date than start:, or remove it",
			"end %s must be after start %s", describe(f.end.val), describe(f.start.val))
	}
	f.pl.Tasks = p.buildTasks(f)
	p.checkGraph(f.tasks)
	p.checkRefs(f)
	if f.pl.Schedule != "" {
		// A scheduled run has nobody to give it params.
		for _, name := range sortedKeys(f.pl.Params) {
			if prm := f.pl.Params[name]; prm.Required && prm.Default == nil {
				p.errorf(p.paramAt[name], "give it a default, make it optional, or remove the schedule",
					"param %s is required and has no default, so scheduled runs cannot start", quoteShort(name))
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
