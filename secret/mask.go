package secret

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

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
// in the forms it takes in what a task produces: as it is, each of its
// lines (a value of several lines reaches a log one line at a time), each
// line without its surrounding blanks, and each of these as Go's %q and
// %+q quote it (errors such as `got "…"`), as JSON escapes it (with and
// without HTML escaping, and with every character outside ASCII escaped,
// as Python's json.dumps does), and as URL query and path escaping write
// it.
//
// What it cannot catch is documented in docs/pipelines.md: values shorter
// than MinMaskLength, values encoded or transformed otherwise (base64,
// hex, upper-cased, reversed), and values split across lines or writes.
//
// A nil or zero Masker masks nothing. A Masker is safe for concurrent use.
type Masker struct {
	forms []string // longest first
	// heads finds the forms that may start at a position of a text: by
	// their first MinMaskLength bytes, longest first. pairs has a bit set
	// for the first two bytes of each form, a quick no for most positions.
	heads map[uint32][]int
	pairs *[1 << 16 / 64]uint64
}

// NewMasker returns a Masker of the values. Values shorter than
// MinMaskLength are ignored.
func NewMasker(values ...string) *Masker {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if len(s) >= MinMaskLength && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, v := range values {
		if len(v) < MinMaskLength {
			continue
		}
		bases := []string{v}
		if strings.ContainsAny(v, "\r\n") {
			for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				bases = append(bases, line, strings.TrimSpace(line))
			}
		}
		for _, b := range bases {
			if len(b) < MinMaskLength {
				continue // a short line of a long value: "}" or "--"
			}
			add(b)
			add(inner(strconv.Quote(b)))
			add(inner(strconv.QuoteToASCII(b)))
			add(jsonString(b, true))
			add(jsonString(b, false))
			add(jsonASCII(jsonString(b, false)))
			add(url.QueryEscape(b))
			add(url.PathEscape(b))
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	m := &Masker{forms: forms, heads: map[uint32][]int{}, pairs: new([1 << 16 / 64]uint64)}
	for i, f := range forms {
		m.heads[head(f)] = append(m.heads[head(f)], i)
		p := pair(f)
		m.pairs[p/64] |= 1 << (p % 64)
	}
	return m
}

// head and pair are the first MinMaskLength and two bytes of s.
func head(s string) uint32 { return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) }
func pair(s string) uint16 { return uint16(s[0])<<8 | uint16(s[1]) }

// inner strips the quotes around a quoted string.
func inner(quoted string) string { return quoted[1 : len(quoted)-1] }

// jsonASCII writes the characters outside ASCII of a JSON string as
// \uXXXX escapes (UTF-16 surrogate pairs beyond the BMP), as Python's
// json.dumps and other encoders do by default.
func jsonASCII(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			sb.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&sb, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String()
}

// jsonString returns s as it is written inside a JSON string.
func jsonString(s string, escapeHTML bool) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	return inner(strings.TrimSuffix(sb.String(), "\n"))
}

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
// The text is read once, whatever the number of forms (a key of 50 lines
// has some 150): at each position, only the forms that start with its
// first bytes are tried, longest first. Aho-Corasick would do the same
// job; the one Go package of it our module list offers is young and little
// used, and with forms at least MinMaskLength long this small table, in
// the standard library only, reads a log line in well under a microsecond
// (BenchmarkMaskerLine).
func (m *Masker) String(s string) string {
	if m.Empty() || s == "" {
		return s
	}
	var spans [][2]int
	for i := 0; i+MinMaskLength <= len(s); i++ {
		if p := pair(s[i:]); m.pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, fi := range m.heads[head(s[i:])] {
			if f := m.forms[fi]; strings.HasPrefix(s[i:], f) {
				// The longest form found here covers the shorter ones.
				spans = append(spans, [2]int{i, i + len(f)})
				break
			}
		}
	}
	for from := 0; ; {
		i := strings.Index(s[from:], cutMark)
		if i < 0 {
			break
		}
		at := from + i
		for _, f := range m.forms {
			if k := cutPrefix(s[:at], f); k > 0 {
				spans = append(spans, [2]int{at - k, at})
			}
		}
		from = at + len(cutMark)
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var sb strings.Builder
	sb.Grow(len(s))
	last := 0 // end of the text written or masked so far
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		sb.WriteString(s[last:start])
		sb.WriteString(Masked)
		last = end
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// cutPrefix returns the length of the longest beginning of form, at least
// MinMaskLength long and shorter than form, that text ends with; or 0.
func cutPrefix(text, form string) int {
	for k := min(len(form)-1, len(text)); k >= MinMaskLength; k-- {
		if text[len(text)-k] == form[0] && strings.HasSuffix(text, form[:k]) {
			return k
		}
	}
	return 0
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
