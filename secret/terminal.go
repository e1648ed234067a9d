package secret

import (
	"strings"
	"unicode/utf8"
)

// terminal returns s as a terminal shows it: escape sequences run, not
// shown (parsed as xterm and the terminals after it do, the DEC parser of
// ECMA-48: CSI, OSC, DCS, SOS, PM, APC, the other ESC sequences, and their
// C1 forms), control characters other than tab and newline dropped, and the
// characters that backspace, carriage return, and the sequences that move
// the cursor (back, forward, to a column or a row, saved and restored)
// bring it back over, overwritten by those written there next.
//
// It is a model, not a terminal: one column a character (a wide or a
// combining character counts as one), an unbounded screen that starts at
// the text's first row, no scrolling region, no insert mode, and what
// erases (ED, EL, ECH) or deletes and shifts characters (DCH, ICH) is not
// done. Erasing leaves blanks, which separate what they are between, so
// leaving the characters shows no secret the terminal would not; deleting
// is in docs/pipelines.md among what masking does not catch.
func terminal(s string) string {
	t := screen{s: s, rows: [][]cell{make([]cell, 0, len(s))}, budget: len(s)}
	t.run()
	var sb strings.Builder
	sb.Grow(len(s))
	for i, row := range t.rows {
		if i > 0 {
			sb.WriteByte('\n')
		}
		for _, c := range row {
			switch c.from {
			case -1:
				sb.WriteByte(' ')
			case -2:
				sb.WriteRune(utf8.RuneError)
			default:
				sb.WriteString(s[c.from:c.to])
			}
		}
	}
	return sb.String()
}

// cell is what a column of the screen shows: s[from:to]; a blank when from
// is -1, U+FFFD (for a byte that is not UTF-8) when it is -2.
type cell struct{ from, to int32 }

type screen struct {
	s              string
	rows           [][]cell
	row, col       int
	savedRow       int
	savedCol       int
	budget         int // blanks still allowed where the cursor moved past the end of a row
	params         [2]int
	nparams        int
	private, inter bool // a CSI with a private marker or intermediate bytes
}

// The states of the DEC parser (vt100.net/emu/dec_ansi_parser), those of
// DCS, OSC, SOS, PM and APC merged into str: their content is not shown.
const (
	ground = iota
	escape
	escInter
	csi
	csiInter
	csiIgnore
	str
	osc
)

func (t *screen) run() {
	s, state := t.s, ground
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			if b, m := c1(s[i:]); m > 0 {
				// A C1 control is ESC and a letter, in every state.
				state = t.escape(b - 0x40)
				i += m
				continue
			}
			r, m := utf8.DecodeRuneInString(s[i:])
			switch {
			case state == str || state == osc:
			case state != ground:
				state = ground // a sequence cut by a character: show it
				continue
			case r == utf8.RuneError && m == 1:
				t.put(cell{-2, -2}) // see stripped
			case !invisible(r):
				t.put(cell{int32(i), int32(i + m)})
			}
			i += m
			continue
		}
		i++
		switch {
		case c == 0x18 || c == 0x1a: // CAN, SUB: the sequence is cancelled
			state = ground
			continue
		case c == 0x1b:
			state = escape
			continue
		case c == 0x7f:
			continue
		case c < 0x20:
			if state == osc && c == 0x07 { // BEL ends a window title
				state = ground
			} else if state != str && state != osc {
				t.control(c, i-1)
			}
			continue
		}
		switch state {
		case ground:
			t.put(cell{int32(i - 1), int32(i)})
		case escape:
			state = t.escape(c)
		case escInter:
			if c >= 0x30 {
				state = ground
			}
		case csi:
			switch {
			case c >= '0' && c <= '9':
				if t.nparams == 0 {
					t.nparams = 1
				}
				if k := t.nparams - 1; k < len(t.params) && t.params[k] < 1<<20 {
					t.params[k] = t.params[k]*10 + int(c-'0')
				}
			case c == ';' || c == ':':
				t.nparams = max(t.nparams, 1) + 1
			case c >= 0x3c && c <= 0x3f: // < = > ?
				t.private = true
			case c < 0x30:
				t.inter = true
				state = csiInter
			default:
				t.dispatch(c)
				state = ground
			}
		case csiInter:
			switch {
			case c < 0x30:
			case c < 0x40:
				state = csiIgnore
			default:
				state = ground
			}
		case csiIgnore:
			if c >= 0x40 {
				state = ground
			}
		}
	}
}

// escape runs ESC c and returns the next state.
func (t *screen) escape(c byte) int {
	switch {
	case c < 0x30:
		return escInter
	case c == '[':
		t.params, t.nparams, t.private, t.inter = [2]int{}, 0, false, false
		return csi
	case c == ']':
		return osc
	case c == 'P' || c == 'X' || c == '^' || c == '_':
		return str
	case c == '7':
		t.savedRow, t.savedCol = t.row, t.col
	case c == '8':
		t.row, t.col = t.savedRow, t.savedCol
	case c == 'D': // IND
		t.down(1)
	case c == 'E': // NEL
		t.down(1)
		t.col = 0
	case c == 'M': // RI
		t.row = max(t.row-1, 0)
	}
	return ground
}

// control runs the control character c, at s[at].
func (t *screen) control(c byte, at int) {
	switch c {
	case '\b':
		t.col = max(t.col-1, 0)
	case '\r':
		t.col = 0
	case '\n':
		t.down(1)
		t.col = 0 // the terminal's onlcr: a newline is CR LF
	case '\v', '\f':
		t.down(1)
	case '\t':
		if line := t.rows[t.row]; t.col < len(line) {
			t.col = min((t.col/8+1)*8, len(line))
		} else {
			t.put(cell{int32(at), int32(at + 1)}) // the tab itself, as the text has it
		}
	}
}

// dispatch runs the CSI sequence ending in final.
func (t *screen) dispatch(final byte) {
	if t.private || t.inter {
		return
	}
	n := max(t.params[0], 1) // the count of a move; 0 and none are 1
	switch final {
	case 'A': // CUU
		t.row = max(t.row-n, 0)
	case 'B', 'e': // CUD, VPR
		t.down(n)
	case 'C', 'a': // CUF, HPR
		t.col += n
	case 'D': // CUB
		t.col = max(t.col-n, 0)
	case 'E': // CNL
		t.down(n)
		t.col = 0
	case 'F': // CPL
		t.row = max(t.row-n, 0)
		t.col = 0
	case 'G', '`': // CHA, HPA
		t.col = n - 1
	case 'd': // VPA
		t.row = 0
		t.down(n - 1)
	case 'H', 'f': // CUP, HVP
		t.row = 0
		t.down(n - 1)
		t.col = max(t.params[1], 1) - 1
	case 'I': // CHT
		t.col = (t.col/8 + n) * 8
	case 'Z': // CBT
		t.col = max((t.col+7)/8-n, 0) * 8
	case 's': // SCOSC
		if t.nparams == 0 {
			t.savedRow, t.savedCol = t.row, t.col
		}
	case 'u': // SCORC
		if t.nparams == 0 {
			t.row, t.col = t.savedRow, t.savedCol
		}
	}
}

// down moves the cursor n rows down, to one row past the last at most.
func (t *screen) down(n int) {
	t.row = min(t.row+n, len(t.rows))
	if t.row == len(t.rows) {
		t.rows = append(t.rows, nil)
	}
}

// put writes c where the cursor is and moves it right. Past the end of the
// row, blanks fill the gap, as many as the text's length in all: a cursor
// sent far right by "ESC [ 99999 C" costs no more than a blank a byte.
func (t *screen) put(c cell) {
	line := t.rows[t.row]
	if gap := t.col - len(line); gap > 0 {
		gap = min(gap, t.budget)
		t.budget -= gap
		for ; gap > 0; gap-- {
			line = append(line, cell{-1, -1})
		}
		t.col = len(line)
	}
	if t.col < len(line) {
		line[t.col] = c
	} else {
		line = append(line, c)
	}
	t.rows[t.row] = line
	t.col++
}
