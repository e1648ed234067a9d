package secret

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// What a display shows of a text is not always the text. A terminal (where
// `sluice logs` and `sluice run` print lines as they are) runs escape
// sequences and control characters instead of showing them: colours, a
// window title, a backspace or a carriage return that has the next
// characters overwrite the last ones. The web UI removes colour codes and a
// browser shows no other control character, nor a zero-width one. A secret
// split by any of these shows whole, so the Masker looks for secrets in the
// text as both kinds of display show it (terminal and stripped below), and
// in quoted text as a reader reads it, past the escapes of these characters
// (`\x1b[0m`, `\u001b`, `\033`, `\r`: unescaped).

// plain marks the bytes every display shows as they are: printable ASCII,
// tab and newline. The common text is all plain, and costs one look at
// each byte (hidden).
var plain = func() (t [256]bool) {
	for b := ' '; b < 0x7f; b++ {
		t[b] = true
	}
	t['\t'], t['\n'] = true, true
	t['\\'] = false // may begin the escape of a control character
	return t
}()

// hidden reports whether a display may show s otherwise than it is: it has
// control characters other than tab and newline, or characters that show
// as nothing (controls); or it has what may be quoting's escapes of these
// (escapes).
func hidden(s string) (controls, escapes bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain[c] {
			continue
		}
		switch {
		case c == '\\':
			switch {
			case i+1 == len(s):
			case s[i+1] == '\\':
				i++ // an escaped backslash begins no escape
			case strings.IndexByte(`xuU0123eEabfrv`, s[i+1]) >= 0:
				escapes = true
			}
		case c < utf8.RuneSelf:
			controls = true
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r >= 0x80 && r < 0xa0 || invisible(r) {
				controls = true
			}
			i += n - 1
		}
		if controls && escapes {
			break
		}
	}
	return controls, escapes
}

// invisible reports whether a display shows r as nothing: a format
// character (zero-width space and joiners, soft hyphen, byte order mark,
// direction marks), a variation selector, or another character Unicode says
// to ignore when rendering (Default_Ignorable_Code_Point); but not the
// marks that prepend to a number and show.
func invisible(r rune) bool {
	for _, rg := range invisibles {
		if r < rg[0] {
			return false
		}
		if r <= rg[1] {
			return true
		}
	}
	return false
}

// invisibles are the ranges of the characters invisible reports, from
// Unicode's tables: unicode.Cf less unicode.Prepended_Concatenation_Mark,
// unicode.Variation_Selector and unicode.Other_Default_Ignorable_Code_Point
// (TestInvisible checks them against the tables of the Go release). A
// table of ranges, not the tables themselves: text outside ASCII costs a
// few comparisons a character, not four binary searches.
var invisibles = [...][2]rune{
	{0x00ad, 0x00ad}, {0x034f, 0x034f}, {0x061c, 0x061c}, {0x115f, 0x1160},
	{0x17b4, 0x17b5}, {0x180b, 0x180f}, {0x200b, 0x200f}, {0x202a, 0x202e},
	{0x2060, 0x206f}, {0x3164, 0x3164}, {0xfe00, 0xfe0f}, {0xfeff, 0xfeff},
	{0xffa0, 0xffa0}, {0xfff0, 0xfffb}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3},
	{0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
}

// c1 returns the C1 control character that s begins with (U+0080 to
// U+009F, which terminals read as ESC and a letter: U+009B is CSI), and
// its length; or 0, 0.
func c1(s string) (byte, int) {
	if len(s) >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0 {
		return s[1], 2
	}
	return 0, 0
}

// stripped returns s as the web UI and a browser show it, and as tools that
// remove colour codes do: CSI sequences (colours, cursor moves) removed
// whole, every other control character, and invisible characters, removed
// alone (the rest of an escape sequence other than CSI shows: a browser
// shows the text of a window title). It also reports whether a terminal
// shows the same (terminal(s) == stripped): when s has none of what moves
// the cursor or hides text on a terminal (backspace, carriage return,
// vertical moves, CSI sequences that move the cursor, other escape
// sequences), as in the common coloured line.
func stripped(s string) (shown string, same bool) {
	var sb strings.Builder
	sb.Grow(len(s))
	same = true
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] || c == '\\' {
			j := i + 1
			for j < len(s) && (plain[s[j]] || s[j] == '\\') {
				j++
			}
			sb.WriteString(s[i:j])
			i = j
			continue
		}
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == 0x1b && i < len(s) && s[i] == '[':
				if n := csiLen(s[i+1:]); n > 0 {
					same = same && !csiMoves(s[i+1:i+1+n])
					i += 1 + n
					continue
				}
				same = false
			case c == 0x1b, c == '\b', c == '\r', c == '\v', c == '\f':
				same = false
			}
			continue // a control character
		}
		if b, n := c1(s[i:]); n > 0 {
			if m := csiLen(s[i+n:]); b == 0x9b && m > 0 {
				same = same && !csiMoves(s[i+n:i+n+m])
				n += m
			} else {
				same = false
			}
			i += n
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			// What displays show for a byte that is not UTF-8; and with
			// the characters around it removed, it could make one with
			// the next bytes.
			sb.WriteRune(utf8.RuneError)
		case !invisible(r):
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String(), same
}

// csiMoves reports whether the CSI sequence seq (after "ESC [") moves the
// cursor on a terminal (see screen.dispatch).
func csiMoves(seq string) bool {
	final := seq[len(seq)-1]
	if len(seq) > 1 && (seq[0] >= 0x3c && seq[0] <= 0x3f || seq[len(seq)-2] < 0x30) {
		return false // a private sequence, or with intermediate bytes: not a move
	}
	return strings.IndexByte("ABCDEFGHIZadefsu`", final) >= 0
}

// csiLen returns the length of the parameters, intermediate bytes and final
// byte of a CSI sequence that s begins with (after "ESC ["), or 0.
func csiLen(s string) int {
	i := 0
	for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
		i++
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		return i + 1
	}
	return 0
}

// unescaped returns s with the escapes of control characters and invisible
// characters that quoting writes (Go's %q, JSON, bash's $'…' and printf
// %q, C, Python) replaced by the characters, as a reader of the quoted text
// reads past them; and whether it replaced any. The escapes of tab and
// newline stay: a display shows these.
func unescaped(s string) (string, bool) {
	var sb strings.Builder
	done := 0 // s[:done] is written to sb
	for i := strings.IndexByte(s, '\\'); i >= 0 && i+1 < len(s); {
		r, n := rune(-1), 0
		switch c := s[i+1]; c {
		case '\\':
			n = 2 // an escaped backslash: what follows it is text
		case 'e', 'E':
			r, n = 0x1b, 2
		case 'a':
			r, n = '\a', 2
		case 'b':
			r, n = '\b', 2
		case 'f':
			r, n = '\f', 2
		case 'r':
			r, n = '\r', 2
		case 'v':
			r, n = '\v', 2
		case 'x':
			r, n = hexRune(s[i+2:], 2), 4
		case 'u':
			r, n = hexRune(s[i+2:], 4), 6
		case 'U':
			r, n = hexRune(s[i+2:], 8), 10
		case '0', '1', '2', '3':
			r, n = octalRune(s[i+1:]), 4
		default:
			n = 2
		}
		if r >= 0 && r != '\t' && r != '\n' && (r < 0x20 || r >= 0x7f && r < 0xa0 || invisible(r)) {
			sb.WriteString(s[done:i])
			sb.WriteRune(r)
			done = i + n
		} else {
			n = 2 // not an escape we read past: what follows may be one
		}
		next := strings.IndexByte(s[i+n:], '\\')
		if next < 0 {
			break
		}
		i += n + next
	}
	if done == 0 {
		return s, false
	}
	sb.WriteString(s[done:])
	return sb.String(), true
}

// hexRune reads the rune of n hex digits s begins with, or -1.
func hexRune(s string, n int) rune {
	if len(s) < n {
		return -1
	}
	var r rune
	for _, c := range []byte(s[:n]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	if r > unicode.MaxRune {
		return -1
	}
	return r
}

// octalRune reads the byte of three octal digits s begins with, or -1.
func octalRune(s string) rune {
	if len(s) < 3 {
		return -1
	}
	var r rune
	for _, c := range []byte(s[:3]) {
		if c < '0' || c > '7' {
			return -1
		}
		r = r<<3 | rune(c-'0')
	}
	if r > 0xff {
		return -1
	}
	return r
}
