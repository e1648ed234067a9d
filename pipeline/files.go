package pipeline

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/expression"
)

// Files is a trigger by file arrival: a run for each new file in a folder
// whose name matches Pattern, once the file has stopped changing (same
// size and mtime) for StableFor. A file replaced later (another size or
// mtime) is a new arrival. The folder's subfolders are not watched.
type Files struct {
	// Name tells the files triggers of a pipeline apart; at most one is
	// unnamed.
	Name string `json:"name,omitempty"`
	// Path is the folder, absolute and clean.
	Path string `json:"path"`
	// Pattern matches the names of the files (path.Match syntax); default
	// "*". Like a shell's, a pattern that does not start with "." does not
	// match names that do (where uploads keep their partial files).
	Pattern string `json:"pattern"`
	// StableFor is how long a file must keep its size and mtime before it
	// counts as arrived; default 10s. 0 runs a file when it is first seen:
	// only for files moved into the folder whole.
	StableFor Duration `json:"stable_for"`
	// Existing says what happens to the files already in the folder when
	// the trigger first watches it: ExistingIgnore (the default) or
	// ExistingRun.
	Existing string `json:"existing"`
	// Params maps an arrival to the run's params: each value is text with
	// ${{ }} expressions over file (file.path, file.name, file.size,
	// file.mtime). A value that is one whole expression keeps its type.
	Params map[string]string `json:"params,omitempty"`
}

// The values of Files.Existing.
const (
	// ExistingIgnore treats the files found at the first watch as handled:
	// only files that arrive (or change) after it start runs.
	ExistingIgnore = "ignore"
	// ExistingRun starts a run for each file found at the first watch too.
	ExistingRun = "run"
)

// Limits of a files trigger.
const (
	// DefaultStableFor is the stable_for of a files trigger that sets none.
	DefaultStableFor = 10 * time.Second
	// MaxStableFor bounds stable_for: a file that must sit still longer is
	// better found by a schedule.
	MaxStableFor = 24 * time.Hour
	// maxWatchPath bounds the folder's path.
	maxWatchPath = 1024
)

// Source is the name of the trigger's events in the store: "files", or
// "files/<name>" for a named one.
func (f *Files) Source() string {
	if f.Name == "" {
		return "files"
	}
	return "files/" + f.Name
}

// IsFilesSource reports whether a trigger event's source is a files
// trigger's (Files.Source): "files" or "files/<name>".
func IsFilesSource(source string) bool {
	return source == "files" || strings.HasPrefix(source, "files/")
}

// Match reports whether a file name (not a path) is one the trigger runs.
func (f *Files) Match(name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(f.Pattern, ".") {
		return false
	}
	ok, _ := path.Match(f.Pattern, name)
	return ok
}

// FileRoots are the variables a files trigger's expressions may read.
var FileRoots = []string{"file"}

var filesKeys = []string{"name", "path", "pattern", "stable_for", "existing", "params"}

// rawFiles is a files trigger with where its parts are written, for the
// checks that need the params of the whole file.
type rawFiles struct {
	f        *Files
	at       pos
	paramsAt map[string]pos
}

// files reads one files: trigger.
func (p *parser) files(e entry) *rawFiles {
	ents, ok := p.entries(e, "files", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in files (first defined at line %d)", key, first.line), "remove one of them"
	})
	if !ok {
		return nil
	}
	rf := &rawFiles{f: &Files{Pattern: "*", StableFor: Duration(DefaultStableFor), Existing: ExistingIgnore}, at: e.keyAt}
	hasPath := false
	for _, it := range ents {
		switch it.key {
		case "name":
			rf.f.Name = p.triggerName(it, "files")
		case "path":
			if s, ok := p.str(it, "files: path"); ok {
				hasPath = true
				rf.f.Path = p.watchPath(it, s)
			}
		case "pattern":
			if s, ok := p.str(it, "files: pattern"); ok {
				p.watchPattern(it, s)
				rf.f.Pattern = s
			}
		case "stable_for":
			if d, ok := p.duration(it, "files: stable_for"); ok {
				if time.Duration(d) > MaxStableFor {
					p.errorf(it.valAt, "a file that must sit still that long is better picked up by a schedule",
						"files: stable_for %s is too long; at most 24h is allowed", quoteShort(it.val.Value))
				}
				rf.f.StableFor = d
			}
		case "existing":
			if s, ok := p.str(it, "files: existing"); ok {
				if s != ExistingIgnore && s != ExistingRun {
					p.errorf(it.valAt, didYouMean(s, []string{ExistingIgnore, ExistingRun},
						"ignore: the files already there when the trigger first watches count as handled; run: each of them gets a run"),
						"files: existing %s is neither ignore nor run", quoteShort(s))
				}
				rf.f.Existing = s
			}
		case "params":
			rf.f.Params, rf.paramsAt = p.fileParams(it)
		default:
			p.errorf(it.keyAt, didYouMean(it.key, filesKeys, "the keys of a files trigger are "+strings.Join(filesKeys, ", ")),
				"unknown key %s in files", quoteShort(it.key))
		}
	}
	if !hasPath {
		p.errorf(e.keyAt, "add path: /the/folder, the absolute path of the folder to watch", "a files trigger needs path:")
	}
	return rf
}

// watchPath checks a files trigger's folder and returns it cleaned.
func (p *parser) watchPath(e entry, s string) string {
	switch {
	case expression.HasExpressions(s):
		p.errorf(e.valAt, "write the folder itself, e.g. /data/incoming", "files: path is not an expression field: %s", quoteShort(s))
	case !path.IsAbs(s):
		p.errorf(e.valAt, "write the absolute path of the folder, e.g. /data/incoming: a scheduler may run anywhere",
			"files: path %s is not absolute", quoteShort(s))
	case len(s) > maxWatchPath:
		p.errorf(e.valAt, "", "files: path is %d bytes long; at most %d are allowed", len(s), maxWatchPath)
	case strings.ContainsRune(s, 0):
		p.errorf(e.valAt, "", "files: path holds a NUL byte")
	default:
		return path.Clean(s)
	}
	return s
}

// watchPattern checks a files trigger's pattern.
func (p *parser) watchPattern(e entry, s string) {
	switch {
	case s == "":
		p.errorf(e.valAt, `write a pattern of file names, e.g. "*.csv", or leave pattern: out for every file`, "files: pattern is empty")
	case strings.Contains(s, "/"):
		p.errorf(e.valAt, "the pattern matches the names of the files directly in path; put the folder in path:, and give a subfolder a trigger of its own",
			"files: pattern %s holds a /: subfolders are not watched", quoteShort(s))
	default:
		if _, err := path.Match(s, ""); err != nil {
			p.errorf(e.valAt, `use *, ?, [abc], [a-z] and \ to escape, e.g. "orders_*.csv"`, "files: pattern %s is not a valid pattern", quoteShort(s))
		}
	}
}

// fileParams reads a files trigger's params: map of expressions.
func (p *parser) fileParams(e entry) (map[string]string, map[string]pos) {
	return p.triggerParams(e, "files", p.fileExpr)
}

// fileExpr checks the expressions of a files trigger's param: they
// compile, and they read only the fields of file.
func (p *parser) fileExpr(at pos, label, s string) bool {
	if !p.triggerExpr(at, label, s, FileRoots, "${{ file.path }}",
		"a files trigger's expressions read the file: file.path, file.name, file.size and file.mtime", "a file arrives") {
		return false
	}
	names, _ := expression.Members(s, "file")
	for _, n := range names {
		if !fileFields[n] {
			p.errorf(at, didYouMean(n, sortedKeys(fileFields), "a file has path, name, size and mtime"), "%s: file.%s is not a field of a file", label, n)
			return false
		}
	}
	return true
}

// fileFields are the fields of file in a files trigger's expressions.
var fileFields = map[string]bool{"path": true, "name": true, "size": true, "mtime": true}

// checkFiles checks what needs the whole file: each mapped param is a
// param of the pipeline, and each required param without a default is
// mapped (an arrival has nobody else to give it).
func (p *parser) checkFiles(f *file) {
	for _, rf := range f.files {
		for _, name := range sortedKeys(rf.f.Params) {
			if _, ok := f.pl.Params[name]; !ok {
				p.errorf(rf.paramsAt[name], didYouMean(name, sortedKeys(f.pl.Params), "declare it under params: first"),
					"files: params %s is not a param of the pipeline", quoteShort(name))
			}
		}
		for _, name := range sortedKeys(f.pl.Params) {
			prm := f.pl.Params[name]
			if _, mapped := rf.f.Params[name]; !mapped && prm.Required && prm.Default == nil {
				p.errorf(rf.at, fmt.Sprintf("map it from the file, e.g. params: {%s: ${{ file.path }}}, or give it a default", name),
					"files: the required param %s gets no value from an arrival", quoteShort(name))
			}
		}
	}
}

// FilesTrigger returns the pipeline's files trigger of the given source
// ("files" or "files/<name>"), or nil.
func (p *Pipeline) FilesTrigger(source string) *Files {
	for _, t := range p.Triggers {
		if t.Files != nil && t.Files.Source() == source {
			return t.Files
		}
	}
	return nil
}

// FileFacts are what a files trigger's expressions know of a file.
type FileFacts struct {
	// Path is the file's absolute path, Name its last element.
	Path string
	Name string
	Size int64
	// Mtime is the file's modification time.
	Mtime time.Time
}

// Env returns the variables of a files trigger's expressions: file, with
// path, name, size (an int) and mtime (RFC 3339 text in UTC, with the
// fraction of a second the file system keeps).
func (ff FileFacts) Env() map[string]any {
	return map[string]any{"file": map[string]any{
		"path": ff.Path, "name": ff.Name, "size": ff.Size, "mtime": ff.Mtime.UTC().Format(time.RFC3339Nano),
	}}
}

// Given evaluates the trigger's params: for a file, to the params a run
// is given (bind them with Pipeline.BindParams).
func (f *Files) Given(ff FileFacts) (map[string]any, error) {
	return EvalParams(f.Params, ff.Env(), "invalid params from the file "+ff.Path)
}
