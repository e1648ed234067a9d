package secret

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// forms returns the texts a value v takes in what tasks print, as the
// Masker looks for them. See Masker.
func forms(v string) []string {
	var out []string
	seen := map[string]bool{}
	for _, b := range bases(v) {
		if len(b) < MinMaskLength || seen[b] {
			continue // a short line of a long value ("}", "--"), or one seen
		}
		seen[b] = true
		out = append(out,
			b,
			inner(strconv.Quote(b)),
			inner(strconv.QuoteToASCII(b)),
			jsonString(b, true),
			jsonString(b, false),
			jsonASCII(jsonString(b, false)),
			url.QueryEscape(b),
			url.PathEscape(b),
			singleQuoted(b),
			doubleQuoted(b),
			backslashed(b, true),
			backslashed(b, false),
			ansiC(b, true),
			ansiC(b, false),
		)
	}
	return out
}

// bases returns v and the texts whose forms are looked for with v's: v
// without the blanks around it and with each run of blanks inside made one
// space (as an unquoted $VAR prints it: the shell splits it into words on
// space, tab and newline, and echo joins them with a space); for a value of
// several lines, each line with and without its surrounding blanks (a log
// gets one line at a time); and for a value with characters a display does
// not show, what a display shows of it.
func bases(v string) []string {
	out := []string{v, strings.TrimSpace(v), strings.Join(strings.FieldsFunc(v, isIFS), " ")}
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			out = append(out, line, strings.TrimSpace(line))
		}
	}
	if controls, _ := hidden(v); controls {
		plain, _ := stripped(v)
		out = append(out, terminal(v), plain)
	}
	return out
}

// isIFS reports whether r is a blank the shell splits words on by default.
func isIFS(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }

// inner strips the quotes around a quoted string.
func inner(quoted string) string { return quoted[1 : len(quoted)-1] }

// jsonASCII writes the characters outside ASCII of a JSON string as
// \uXXXX escapes (UTF-16 surrogate pairs beyond the BMP), as Python's
// json.dumps and other encoders do by default.
func jsonASCII(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/8)
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

// The shell's quoting, as bash 5 writes it (lib/sh/shquote.c, strtrans.c)
// and the tests check against the bash on the machine: set -x traces a word
// that holds a shell character in single quotes (and one with other
// control characters in $'…'); printf %q escapes each shell character with
// a backslash (a value with control characters in $'…'); ${X@Q} is single
// quotes; declare -p and export -p, double quotes.

// singleQuoted returns s inside POSIX single quotes: each ' closes the
// quotes, is escaped, and opens them again.
func singleQuoted(s string) string { return strings.ReplaceAll(s, `'`, `'\''`) }

// doubleQuoted returns s inside double quotes: $ ` " \ escaped.
func doubleQuoted(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("$`\"\\", s[i]) >= 0 {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// backslashed returns s as printf %q writes it when it needs no $'…': each
// shell character after a backslash, and # and ~ too where they begin a
// word (s at a word's start, or after =) and ~ after : or = in s.
func backslashed(s string, wordStart bool) string {
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(" \t\n!\"$&'()*,;<>?[\\]^`{|}", c) >= 0:
			sb.WriteByte('\\')
		case (c == '#' || c == '~') && i == 0 && wordStart:
			sb.WriteByte('\\')
		case c == '~' && i > 0 && (s[i-1] == ':' || s[i-1] == '='):
			sb.WriteByte('\\')
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// ansiC returns s inside bash's $'…': \ and ' escaped, control characters
// as \a \b \E \f \n \r \t \v or \NNN in octal, as are bytes outside ASCII
// in the C locale (utf8 false), and in a UTF-8 locale the bytes of what is
// not a printable character (glibc's iswprint: C1 controls, line and
// paragraph separators, unassigned code points, invalid UTF-8).
func ansiC(s string, utf8Locale bool) string {
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if utf8Locale && (r != utf8.RuneError || n > 1) && printable(r) {
				sb.WriteString(s[i : i+n])
			} else {
				for _, b := range []byte(s[i : i+n]) {
					fmt.Fprintf(&sb, `\%03o`, b)
				}
			}
			i += n
			continue
		}
		i++
		switch c {
		case 0x1b:
			sb.WriteString(`\E`)
		case '\a':
			sb.WriteString(`\a`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\v':
			sb.WriteString(`\v`)
		case '\\', '\'':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		default:
			if c < ' ' || c == 0x7f {
				fmt.Fprintf(&sb, `\%03o`, c)
			} else {
				sb.WriteByte(c)
			}
		}
	}
	return sb.String()
}

// printable reports whether glibc's iswprint holds for r, outside ASCII:
// an assigned character that is not a control or a line or paragraph
// separator. Format and private use characters are printable to it.
func printable(r rune) bool {
	return r >= 0xa0 && unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs, unicode.Cf, unicode.Co)
}
