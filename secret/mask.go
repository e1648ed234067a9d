package secret

import "strings"

// MinMaskLength is the length, in bytes, of the shortest secret value a
// Masker masks. Shorter values are left alone: a secret of one or two
// characters would blank out ordinary text everywhere ("a" in every word),
// making logs unreadable and showing the secret anyway by where the blanks
// fall. Three matches what sluice has always done; a value that short is
// not a secret worth the name, and the worker says so in the task's log.
const MinMaskLength = 3

// Masked is what a secret value is replaced with.
const Masked = "***"

// cutMark is what sluice appends where it cuts a text short (a quoted
// output line, an HTTP error's body): a secret cut there leaves only its
// beginning, which the Masker masks too.
const cutMark = "…"

// Masker replaces secret values with Masked in text. It knows each value
// in the forms it takes in what a task produces:
//
//   - as it is; without the blanks around it, and with each run of blanks
//     inside it made one space (as an unquoted $VAR prints it); each of its
//     lines, with and without their blanks (a value of several lines
//     reaches a log one line at a time);
//   - each of these as Go's %q and %+q quote it (errors such as `got "…"`),
//     as JSON escapes it (with and without HTML escaping, and with every
//     character outside ASCII escaped, as Python's json.dumps does), as URL
//     query and path escaping write it;
//   - and as the shell quotes it: in single quotes (set -x, ${X@Q}), in
//     double quotes (declare -p), with backslashes (printf %q) and in
//     bash's $'…', in a UTF-8 locale and in C.
//
// It also looks at a text as displays show it, where a secret split by
// what they do not show is whole: escape sequences and control characters
// (a colour reset in the middle, grep's highlight of a part), characters
// overwritten after a backspace or a carriage return, characters that show
// as nothing (a zero-width space), and in quoted text the escapes of these
// (`\x1b[0m`). See String.
//
// What it cannot catch is documented in docs/pipelines.md: values shorter
// than MinMaskLength, values encoded or transformed otherwise (base64,
// hex, upper-cased, reversed), and values split across lines or writes.
//
// A nil or zero Masker masks nothing. A Masker is safe for concurrent use.
type Masker struct {
	forms []string
	ac    *automaton
	// pairs has a bit set for the first two bytes of each form: a quick no
	// for most positions of a text, where the automaton is at its root.
	pairs *[1 << 16 / 64]uint64
}

// NewMasker returns a Masker of the values. Values shorter than
// MinMaskLength are ignored, and so are their forms shorter than it.
func NewMasker(values ...string) *Masker {
	seen := map[string]bool{}
	var all []string
	for _, v := range values {
		if len(v) < MinMaskLength {
			continue
		}
		for _, f := range forms(v) {
			if len(f) >= MinMaskLength && !seen[f] {
				seen[f] = true
				all = append(all, f)
			}
		}
	}
	m := &Masker{forms: all, ac: newAutomaton(all), pairs: new([1 << 16 / 64]uint64)}
	for _, f := range all {
		p := pair(f)
		m.pairs[p/64] |= 1 << (p % 64)
	}
	return m
}

// pair is the first two bytes of s.
func pair(s string) uint16 { return uint16(s[0])<<8 | uint16(s[1]) }

// Empty reports whether the Masker masks nothing.
func (m *Masker) Empty() bool { return m == nil || len(m.forms) == 0 }

// String returns s with every secret value in it replaced by Masked.
//
// Overlapping values are masked as one: every byte that is part of any
// occurrence of any form is hidden, so two secrets that share characters,
// or a secret next to a copy of itself, leave no part behind whatever order
// they are found in. strings.Replacer cannot do this (it takes the first
// match at each position and never looks inside it), hence the spans. A
// form's beginning just before a cut mark ("…") is masked too: it is what
// is left of a secret where sluice cut the text short.
//
// When s has what a display does not show as it is (hidden), String also
// reads it as a terminal shows it and as a page that strips escape codes
// does, and quoted text past its escapes of control characters. If a
// secret shows in one of these, String returns that text, masked, instead
// of s: the line loses its colours and control characters (and what a
// terminal would have overwritten), which is a small price for not showing
// the secret to whoever reads the log. The text returned then has no
// control characters left, so it shows as it is, masked, everywhere.
//
// The cost is linear in the length of s, whatever the number of forms (a
// key of 50 lines has some 60, most of them long) or of cut marks: an
// automaton reads s once (see automaton), and a text with control
// characters or escapes is read a few more times, as each display shows
// it. A text with none, the common case, costs one more look at each byte
// (BenchmarkMaskerLine).
func (m *Masker) String(s string) string {
	if m.Empty() || s == "" {
		return s
	}
	out := m.mask(s)
	controls, escapes := hidden(out)
	if controls {
		if shown, ok := m.revealed(out); ok {
			out = shown
		}
	}
	// Quoted text, read past its escapes: out as it is, or as a display
	// showed it above (which may still quote a secret, split by an escaped
	// escape code).
	if escapes {
		if u, ok := unescaped(out); ok {
			if shown, ok := m.revealed(u); ok {
				out = shown
			}
		}
	}
	return out
}

// revealed returns, masked, the first of what a terminal and a page that
// strips escape codes show of t in which a secret shows; or "", false.
func (m *Masker) revealed(t string) (string, bool) {
	plain, same := stripped(t)
	views := []string{plain}
	if !same {
		views = []string{terminal(t), plain}
	}
	for _, shown := range views {
		if masked := m.mask(shown); masked != shown {
			return masked, true
		}
	}
	return "", false
}

// mask returns s with every form, and every form's beginning before a cut
// mark, replaced by Masked.
func (m *Masker) mask(s string) string {
	var spans [][2]int // sorted and apart: each new one ends at or after the last
	add := func(from, to int) {
		for len(spans) > 0 && spans[len(spans)-1][1] >= from {
			from = min(from, spans[len(spans)-1][0])
			spans = spans[:len(spans)-1]
		}
		spans = append(spans, [2]int{from, to})
	}
	a := m.ac
	at := int32(0) // the automaton's node after s[:i]
	for i := 0; i < len(s); i++ {
		if at == 0 {
			if i+MinMaskLength > len(s) {
				break
			}
			if p := pair(s[i:]); m.pairs[p/64]&(1<<(p%64)) == 0 {
				continue // no form begins here, and none is under way
			}
		} else if d := int(a.nodes[at].depth); d >= MinMaskLength && s[i] == cutMark[0] && strings.HasPrefix(s[i:], cutMark) {
			add(i-d, i) // the beginning of a form, cut here
		}
		at = a.next(at, s[i])
		if n := int(a.nodes[at].out); n > 0 {
			// The longest form that ends here covers the shorter ones.
			add(i+1-n, i+1)
		}
	}
	if len(spans) == 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	last := 0 // end of the text written or masked so far
	for _, sp := range spans {
		sb.WriteString(s[last:sp[0]])
		sb.WriteString(Masked)
		last = sp[1]
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// Bytes is String for a byte slice. It returns b itself when nothing in it
// is masked.
func (m *Masker) Bytes(b []byte) []byte {
	if m.Empty() || len(b) == 0 {
		return b
	}
	s := string(b)
	if out := m.String(s); out != s {
		return []byte(out)
	}
	return b
}
