package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// idPattern is what pipeline and task ids look like.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

const idHint = "use up to 128 letters, digits, _, . and -, starting with a letter, digit or _"

// tagPattern is a tag: a word people filter the pipelines list by. No
// commas, since a list of tags travels as comma-separated text in URLs.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/+-]{0,63}$`)

const tagHint = "a tag is up to 64 letters, digits and _ . : / + -, such as finance or team:data"

// topKeys are the keys of a pipeline file.
var topKeys = []string{
	"id", "description", "tags", "schedule", "timezone", "start", "end", "catchup",
	"max_active_runs", "max_active_tasks", "retention", "params", "defaults", "on_success", "on_failure", "triggers", "tasks", "groups",
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
	return parse(name, src, piecewiseMin, pieceSize)
}

// parse is Parse, reading the tasks: block of a file of at least
// piecewise bytes in pieces of about size bytes (see pieces.go); a
// piecewise of -1 reads every file whole.
func parse(name string, src []byte, piecewise, size int) (*Pipeline, error) {
	p := &parser{file: name, piecewise: piecewise, pieceSize: size}
	pl := p.parse(src)
	if p.wholeAgain {
		p = &parser{file: name, piecewise: -1}
		pl = p.parse(src)
	}
	if len(p.errs) > 0 {
		return nil, p.result()
	}
	if len(p.warns) > 0 {
		sort.SliceStable(p.warns, func(i, j int) bool {
			a, b := p.warns[i], p.warns[j]
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		pl.Warnings = p.warns
	}
	return pl, nil
}

// ParseFile reads the pipeline file at path and parses it with Parse. It
// returns the source bytes too, even when they do not parse, so a caller
// can store them along with the errors.
func ParseFile(path string) (*Pipeline, []byte, error) {
	src, err := ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: %w", err)
	}
	pl, err := Parse(path, src)
	return pl, src, err
}

// parser holds the state of one Parse.
type parser struct {
	file string
	errs ErrorList
	// paramAt is where each param is declared.
	paramAt map[string]pos
	// exprSink collects the expression fields of the task or defaults
	// being read.
	exprSink *[]exprRef
	// values counts the values the file writes out, for the limits that
	// grow with the size of the file.
	values int
	// secretsOK is set while reading the fields where ${{ secrets.X }}
	// may be used: a task's env: and http: (url, headers, body).
	secretsOK bool
	// warns are the file's warnings (see Warning).
	warns []Warning
	// piecewise is the size from which a file's tasks are read in pieces
	// of about pieceSize bytes, -1 for never; pieces is the file's tasks:
	// block when they are, and wholeAgain is set until they turn out to
	// be plainly the block's tasks (see pieces.go).
	piecewise  int
	pieceSize  int
	pieces     *taskPieces
	wholeAgain bool
}

// file is what the walk of a pipeline file collects before the checks that
// need the whole file (time zone, dates, defaults, the task graph).
type file struct {
	pl       *Pipeline
	rootAt   pos
	tzAt     pos
	start    *entry
	end      *entry
	defaults settings
	tasks    []*rawTask
	webhooks []*rawWebhook
	files    []*rawFiles
	// groups is the groups: block, at groupsAt; nil without one.
	groups   map[string]groupDecl
	groupsAt *pos
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
	if len(src) > MaxFileSize {
		p.errorf(offsetPos(src, MaxFileSize), "split the pipeline, or move long scripts into files the tasks run",
			"the file is larger than %d bytes (%s), the most a pipeline file may have", MaxFileSize, sizeText(MaxFileSize))
		return nil
	}
	text := src
	if p.piecewise >= 0 && len(src) >= p.piecewise {
		if top, tp, ok := splitTasks(src, p.pieceSize); ok {
			// Until the pieces are walked, the file is to be read whole
			// again: the document without the block may not even read.
			text, p.pieces, p.wholeAgain = top, tp, true
		}
	}
	doc, ok := p.document(text)
	if !ok {
		return nil
	}
	root := p.resolve(doc)
	if root == nil {
		return nil
	}
	if kindOf(root) != kindMap {
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
func (p *parser) document(src []byte) (body *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(yaml12as11(src)))
	var first *yaml.Node
	for {
		var doc yaml.Node
		err := decodeYAML(dec, &doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			p.syntaxError(src, err)
			return nil, false
		}
		if len(doc.Content) == 0 || isImplicitNull(doc.Content[0]) {
			continue // an empty document, such as the one after a last "---"
		}
		if first == nil {
			first = doc.Content[0]
			continue
		}
		// A second document: report it and stop reading, so the reader
		// does no more work than the one document needs.
		p.errorf(documentStart(src, doc.Content[0].Line), "put each pipeline in a file of its own",
			"a pipeline file must hold one YAML document, but a second one starts here")
		break
	}
	if first == nil {
		p.errorf(pos{1, 1}, "a pipeline needs at least id: and tasks:", "file is empty")
		return nil, false
	}
	if !p.withinLimits(first) {
		return nil, false
	}
	return first, true
}

// yaml12Directive is a "%YAML 1.2" directive line.
var yaml12Directive = regexp.MustCompile(`(?m)^%YAML[ \t]+1\.2([ \t]|\r?$)`)

// yaml12as11 turns "%YAML 1.2" directives into "%YAML 1.1", the only
// version the YAML reader accepts. It reads plain values by YAML 1.2's
// core rules either way (yes and on are text, not booleans); the bytes
// keep their length, so positions do not move.
func yaml12as11(src []byte) []byte {
	if !bytes.Contains(src, []byte("%YAML")) {
		return src
	}
	return yaml12Directive.ReplaceAllFunc(src, func(m []byte) []byte {
		return bytes.Replace(m, []byte("1.2"), []byte("1.1"), 1)
	})
}

// documentStart returns the position of the "---" that opens the document
// whose content starts on line, or the content's line when there is none.
func documentStart(src []byte, line int) pos {
	lines := bytes.Split(src, []byte("\n"))
	for l := min(line, len(lines)); l >= 1; l-- {
		if bytes.HasPrefix(lines[l-1], []byte("---")) {
			return pos{l, 1}
		}
	}
	return pos{max(line, 1), 1}
}

// decodeYAML reads the next document, turning a panic inside the YAML
// reader into an error so that no input can crash the caller. Duplicate
// keys are left for the walk, which reports them with both positions.
func decodeYAML(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML reader failed on this file: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// yamlErrorLine matches the position the YAML reader puts in its errors.
var yamlErrorLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// unknownAnchor matches the YAML reader's error for an alias to nothing.
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// syntaxError reports an error of the YAML reader at the line it gives.
// The reader names no column, and no line for errors on the first line;
// its parser (unlike its scanner) counts lines from 0.
func (p *parser) syntaxError(src []byte, err error) {
	msg := err.Error()
	at := pos{1, 1}
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		msg = m[2]
		if m[1] != "" {
			n, _ := strconv.Atoi(m[1])
			if fromParser(msg) {
				n++
			}
			at = pos{max(min(n, bytes.Count(src, []byte("\n"))+1), 1), 1}
		}
	}
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		name := m[1]
		p.errorf(aliasAt(src, name), fmt.Sprintf("define the anchor first, e.g. \"key: &%s value\", then refer to it as *%s", name, name),
			"alias *%s refers to no anchor defined before it", name)
		return
	}
	if strings.HasPrefix(msg, "exceeded max depth") {
		p.errorf(deepAt(src, maxNesting, at), nestingHint, "nesting deeper than %d levels", maxNesting)
		return
	}
	line := lineAt(src, at.line)
	hint := syntaxHint(line, msg)
	switch {
	case strings.Contains(msg, "end of stream") && strings.ContainsAny(line, `"'`):
		msg = "a quoted value starts here and is not closed"
		at.col = runeCol(line, strings.IndexAny(line, `"'`))
	case strings.Contains(msg, "',' or ']'"):
		at.col = runeCol(line, strings.IndexByte(line, '['))
	case strings.Contains(msg, "',' or '}'"):
		at.col = runeCol(line, strings.IndexByte(line, '{'))
	case strings.Contains(msg, "cannot start any token"):
		at.col = runeCol(line, strings.IndexAny(line, "\t@`%"))
	}
	p.errorf(at, hint, "invalid YAML: %s", msg)
}

// fromParser reports whether msg is an error of the YAML reader's parser
// rather than of its scanner.
func fromParser(msg string) bool {
	for _, s := range []string{"<document start>", "expected node content", "expected key", "'-' indicator",
		"',' or ']'", "',' or '}'", "tag handle", "incompatible YAML document", "duplicate %"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// lineAt returns line n of src, counting from 1.
func lineAt(src []byte, n int) string {
	for i := 1; i < n; i++ {
		nl := bytes.IndexByte(src, '\n')
		if nl < 0 {
			return ""
		}
		src = src[nl+1:]
	}
	if nl := bytes.IndexByte(src, '\n'); nl >= 0 {
		src = src[:nl]
	}
	return strings.TrimSuffix(string(src), "\r")
}

// runeCol turns a byte index in line into a column; a missing index is
// column 1.
func runeCol(line string, i int) int {
	if i < 0 {
		return 1
	}
	return utf8.RuneCountInString(line[:i]) + 1
}

// aliasAt returns where *name is first used.
func aliasAt(src []byte, name string) pos {
	re := regexp.MustCompile(`\*` + regexp.QuoteMeta(name) + `(?:[\s,\]}]|$)`)
	if loc := re.FindIndex(src); loc != nil {
		return offsetPos(src, loc[0])
	}
	return pos{1, 1}
}

// offsetPos returns the line and column of the byte at offset in src.
func offsetPos(src []byte, offset int) pos {
	offset = min(offset, len(src))
	before := src[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return pos{line, utf8.RuneCount(before[lineStart:]) + 1}
}

// syntaxHint suggests a fix for the YAML mistakes people make most.
func syntaxHint(line, msg string) string {
	indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	switch {
	case strings.Contains(msg, "cannot start any token") && strings.Contains(indent, "\t"):
		return "indent with spaces; YAML does not allow tabs there"
	case strings.Contains(msg, "cannot start any token"):
		return "quote the value: a plain YAML value cannot start with this character"
	case strings.Contains(msg, "end of stream"):
		return "close the quote at the end of the value"
	case strings.Contains(msg, "',' or ']'"), strings.Contains(msg, "',' or '}'"):
		return "close the bracket, or write the list or map one item per line"
	case strings.Contains(msg, "not allowed in this context"), strings.Contains(msg, "expected key"),
		strings.Contains(msg, "expected ':'"), strings.Contains(msg, "'-' indicator"):
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
func (p *parser) top(f *file, root *yaml.Node) {
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
		case "tags":
			pl.Tags = p.names(e, "tags", tagPattern, tagHint)
			if len(pl.Tags) == 0 {
				pl.Tags = nil
			}
		case "schedule":
			if kindOf(e.val) == kindMap {
				p.assetSchedule(pl, e)
			} else if s, ok := p.str(e, "schedule"); ok {
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
		case "triggers":
			p.triggers(f, e)
		case "tasks":
			if p.pieces != nil {
				p.readTaskPieces(f, e)
			} else {
				p.tasks(f, e)
			}
		case "groups":
			p.groupsBlock(f, e)
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
	// Every task gets a copy of the variables of defaults: env:, so their
	// product is bounded like the values aliases add.
	if copies := len(f.defaults.env) * len(f.tasks); copies > p.values+aliasAllowance {
		p.errorf(f.defaults.envAt, "set the variables on the tasks that need them",
			"defaults: env: gives %d variables to each of %d tasks, %d in all; at most %d are allowed for a file of this size",
			len(f.defaults.env), len(f.tasks), copies, p.values+aliasAllowance)
		return
	}
	p.checkGraph(f.tasks)
	p.checkRefs(f)
	p.checkWebhooks(f)
	p.checkFiles(f)
	p.checkProduces(f)
	p.checkGroups(f)
	// Last, as it lets go of the tasks as written while it builds them.
	f.pl.Tasks = p.buildTasks(f)
	if f.pl.Schedule != "" || len(f.pl.Assets) > 0 {
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
