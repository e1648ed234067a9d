package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a pipeline file, positioned at the key or value
// that causes it. Line and Col are 1-based.
type Error struct {
	File string
	Line int
	Col  int
	// Msg says what is wrong; Hint, when not empty, says what to do.
	Msg  string
	Hint string
}

// Error returns "FILE:LINE:COL: MSG", followed by "\n\thint: HINT" when the
// error has a hint.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	if e.Hint != "" {
		s += "\n\thint: " + e.Hint
	}
	return s
}

// ErrorList is every problem found in one pipeline file, sorted by position.
// Parse returns all of them at once so a user can fix a file in one pass.
type ErrorList []*Error

// Error returns the errors one after the other, separated by newlines.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// sort orders the list by line, then column, then message, so the output
// does not depend on the order in which the checks ran.
func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Msg < b.Msg
	})
}

// pos is a 1-based position in a file.
type pos struct{ line, col int }

// errorf records one error at p.
func (p *parser) errorf(at pos, hint, format string, args ...any) {
	p.errs = append(p.errs, &Error{
		File: p.file,
		Line: at.line,
		Col:  at.col,
		Msg:  fmt.Sprintf(format, args...),
		Hint: hint,
	})
}
