package catalog

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Definition is a file that defines a pipeline id.
type Definition struct {
	ID, File string
	// Line and Col are where the file gives the id's value; 0 when not
	// known (an id written in flow style, or a file that names none).
	Line, Col int
}

// String returns FILE:LINE:COL, or FILE when the position is not known.
func (d Definition) String() string {
	if d.Line == 0 {
		return d.File
	}
	return fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Col)
}

// idKey is a top-level id key in block style, with its value.
var idKey = regexp.MustCompile(`(?m)^(?:id|"id"|'id')[ \t]*:[ \t]*(\S)`)

// IDAt returns where src gives its pipeline id: the line and column of the
// value of its top-level id key. It is 0, 0 when src has no such key in
// block style.
func IDAt(src []byte) (line, col int) {
	m := idKey.FindSubmatchIndex(src)
	if m == nil {
		return 0, 0
	}
	at := m[2]
	line = bytes.Count(src[:at], []byte("\n")) + 1
	col = at - (bytes.LastIndexByte(src[:at], '\n') + 1) + 1
	return line, col
}

// DuplicateError is a pipeline id that more than one file defines. A
// pipelines folder loads one file per id, so all but one are ignored
// until the clash ends.
type DuplicateError struct {
	ID string
	// Defs are the files that define ID, sorted by file.
	Defs []Definition
	// Loaded is the file a Loader loads for ID; empty outside a Loader.
	Loaded string
}

// duplicateHint says what to do about a DuplicateError.
const duplicateHint = "give each pipeline its own id, or delete the copy"

// Error names every file with the position of its id, and which one is
// loaded.
func (e *DuplicateError) Error() string {
	files := make([]string, len(e.Defs))
	for i, d := range e.Defs {
		files[i] = d.String()
	}
	s := fmt.Sprintf("pipeline id %q is defined in %d files: %s", e.ID, len(files), joinAnd(files))
	if e.Loaded != "" {
		s += fmt.Sprintf("; sluice loads %s and ignores the others until one file is left", e.Loaded)
	}
	return s + "\n\thint: " + duplicateHint
}

// In returns the error as seen from one of its files, for a list of
// errors by file: "FILE:LINE:COL: pipeline id "x" is also defined in
// OTHER:LINE:COL", with the hint on the next line.
func (e *DuplicateError) In(file string) string {
	var self Definition
	var others []string
	for _, d := range e.Defs {
		if d.File == file {
			self = d
		} else {
			others = append(others, d.String())
		}
	}
	return fmt.Sprintf("%s: pipeline id %q is also defined in %s\n\thint: %s", self, e.ID, joinAnd(others), duplicateHint)
}

// Duplicates returns a DuplicateError for each id that more than one of
// defs defines, sorted by id.
func Duplicates(defs []Definition) []*DuplicateError {
	byID := map[string][]Definition{}
	for _, d := range defs {
		byID[d.ID] = append(byID[d.ID], d)
	}
	var out []*DuplicateError
	for id, ds := range byID {
		if len(ds) < 2 {
			continue
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i].File < ds[j].File })
		out = append(out, &DuplicateError{ID: id, Defs: ds})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
