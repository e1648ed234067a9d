package secret_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/sluice-dev/sluice/secret"
)

func TestMasker(t *testing.T) {
	t.Parallel()
	const (
		token = "tok-9f8e7d6c"
		weird = "we\"ird\\pa\tß<&>\x01-42"
		pem   = "-----BEGIN KEY-----\r\n  abcdef123456\r\nzyxw\n}\n-----END KEY-----"
		// brief is the value of the security review's probe; split is a
		// shorter one of the same shape, to split.
		brief  = "Sup3r$ecret.*[x](y)+?"
		split  = "Sup3r$ecret"
		quoted = "it's-a-s3cret pass"
	)
	jsonOf := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	for _, tc := range []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"as it is", []string{token}, "token " + token + " and " + token, "token *** and ***"},
		{"none", []string{token}, "nothing to hide", "nothing to hide"},
		{"Go %q", []string{weird}, fmt.Sprintf("got %q", "x "+weird+" y"), `got "x *** y"`},
		{"Go %+q", []string{weird}, fmt.Sprintf("got %+q", weird), `got "***"`},
		{"JSON", []string{weird}, `{"w":` + jsonOf(weird) + `}`, `{"w":"***"}`},
		{"JSON without HTML escaping", []string{weird}, `{"w":"we\"ird\\pa\tß<&>\u0001-42"}`, `{"w":"***"}`},
		{"JSON in ASCII", []string{weird + "😀"}, `{"w": "we\"ird\\pa\t\u00df<&>\u0001-42\ud83d\ude00"}`, `{"w": "***"}`},
		{"URL query", []string{weird}, "https://h/?p=" + url.QueryEscape(weird), "https://h/?p=***"},
		{"each line", []string{pem}, "line abcdef123456 and zyxw", "line *** and ***"},
		{"each line, indented or not", []string{pem}, "  abcdef123456\r", "***\r"},
		{"a line quoted", []string{pem}, strconv.Quote("  abcdef123456\r"), `"***\r"`},
		{"short lines stay", []string{pem}, "} -- {", "} -- {"},
		{"whole", []string{pem}, "key=" + pem + ".", "key=***."},
		{"whole, quoted", []string{pem}, strconv.Quote(pem), `"***"`},
		{"too short", []string{"ab", ""}, "abc ab", "abc ab"},
		{"shortest masked", []string{"abc"}, "abcd", "***d"},
		{"overlapping secrets", []string{"abcdef", "defghi"}, "xabcdefghiy", "x***y"},
		{"overlapping, other order", []string{"defghi", "abcdef"}, "xabcdefghiy", "x***y"},
		{"one inside another", []string{"secretvalue", "value"}, "a secretvalue, a value", "a ***, a ***"},
		{"repeated", []string{"aaa"}, "aaaaa", "***"},
		{"back to back", []string{token}, token + token, "***"},
		{"cut short", []string{token}, "got tok-9f8e…", "got ***…"},
		{"cut short, quoted", []string{weird}, fmt.Sprintf("%q", weird[:7]+"…"), `"***…"`},
		{"cut too short to tell", []string{token}, "got to…", "got to…"},
		{"a mark after no secret", []string{token}, "more…", "more…"},
		{"cut short, at the end of a long line", []string{token}, strings.Repeat("…", 100) + " tok-9f8e…", strings.Repeat("…", 100) + " ***…"},

		// What a display drops: a secret split by escape codes or control
		// characters shows whole on the screen, so it is masked in the text
		// as the screen shows it.
		{"split by a colour reset", []string{brief}, "ansi: Sup3r\x1b[0m$ecret.*[x](y)+?", "ansi: ***"},
		{"split by grep's highlight", []string{brief}, "\x1b[01;31m\x1b[KSup3r\x1b[m\x1b[K$ecret.*[x](y)+? found", "*** found"},
		{"split by a window title (OSC, BEL)", []string{split}, "Sup3r\x1b]0;title\x07$ecret", "***"},
		{"split by a hyperlink (OSC 8, ST)", []string{split}, "Sup3r\x1b]8;;https://h/\x1b\\$ecret\x1b]8;;\x1b\\", "***"},
		{"split by a charset switch", []string{split}, "Sup3r\x1b(B$ecret", "***"},
		{"split by a DCS string", []string{split}, "Sup3r\x1bPq#0;2;0;0;0\x1b\\$ecret", "***"},
		{"split by a control inside a CSI", []string{split}, "Sup3r\x1b[0\x01m$ecret", "***"},
		{"split by a C1 CSI", []string{split}, "Sup3r\u009b0m$ecret", "***"},
		{"split by a lone ESC (a page drops it)", []string{split}, "Sup3r\x1b$ecret", "***"},
		{"split by other controls", []string{split}, "Sup3r\x00\x07\x0e\x7f\u0085$ecret", "***"},
		{"split by invisible characters", []string{split}, "Sup3r\u200b\u00ad\ufeff\u2060\ufe0f$ecret", "***"},
		{"overwritten by backspace", []string{split}, "Sup3rXY\b\b$ecret", "***"},
		{"overwritten after a carriage return", []string{split}, "XXXXX$ecret\rSup3r", "***"},
		{"overwritten after moving the cursor back", []string{split}, "xxXXXXX$ecret\x1b[11DSup3r", "xx***"},
		{"overwritten after moving the cursor to a column", []string{split}, "XXXXX$ecret\x1b[1GSup3r", "***"},
		{"overwritten after restoring the cursor", []string{split}, "Sup3r\x1b7XXXXXX\x1b8$ecret", "***"},
		{"split, in a text of several lines", []string{split}, "one\n\tSup3r\x1b[0m$ecret\nthree", "one\n\t***\nthree"},
		{"split, and also whole", []string{split}, "\x1b[1mSup3r$ecret\x1b[0m Sup3r\x1b[0m$ecret", "*** ***"},
		{"whole and coloured: the colours stay", []string{split}, "\x1b[31mSup3r$ecret\x1b[0m", "\x1b[31m***\x1b[0m"},
		{"colours and no secret stay", []string{split}, "\x1b[32mok\x1b[0m\r\x1b[K50%\b\b", "\x1b[32mok\x1b[0m\r\x1b[K50%\b\b"},
		{"overwritten on screen, masked in the text", []string{split}, "Sup3r$ecret\rXXXXXXXXXXX", "***\rXXXXXXXXXXX"},
		{"split by a code escaped by %q", []string{split}, `got "Sup3r\x1b[0m$ecret"`, `got "***"`},
		{"split by a code escaped in JSON", []string{split}, `{"msg":"Sup3r\u001b[0m$ecret\u200b"}`, `{"msg":"***"}`},
		{"split by a code escaped by bash", []string{split}, `$'Sup3r\E[0m$ecret'`, `$'***'`},
		{"split by a code escaped in octal", []string{split}, `Sup3r\033[0m$ecret`, `***`},
		{"split by an escaped code and a code", []string{split}, "Sup3r\x1b[0m$ecret Sup3r\\x1b[0m$ecret", "*** ***"},
		{"an escaped backslash is no escape", []string{split}, `Sup3r\\x1b[0m$ecret`, `Sup3r\\x1b[0m$ecret`},
		{"a backslash of the value, then a code", []string{`Sup3r\$ecret`}, "Sup3r\\\x1b[0m$ecret", "***"},
		{"a byte not UTF-8 makes no character", []string{"3r\u200b$"}, "3r\xe2\x80\x00\x8b$", "3r\xe2\x80\x00\x8b$"},

		// Blanks around a value, which an unquoted $VAR drops, and runs of
		// blanks inside it, which it makes one space.
		{"trimmed", []string{"  spaced-secret-val  "}, "got spaced-secret-val.", "got ***."},
		{"blanks inside made one", []string{" two \t words\n"}, "echo: two words", "echo: ***"},
		{"a key echoed unquoted", []string{pem}, "-----BEGIN KEY-----\r abcdef123456\r zyxw } -----END KEY-----", "***"},

		// Shell quoting: set -x and ${X@Q} (POSIX single quotes), printf %q
		// (backslashes, or $'…' for controls), declare -p (double quotes).
		{"set -x", []string{quoted}, `+ curl -H 'Authorization: Bearer it'\''s-a-s3cret pass'`, `+ curl -H 'Authorization: Bearer ***'`},
		{"printf %q", []string{quoted}, `it\'s-a-s3cret\ pass`, `***`},
		{"printf %q of a value with a tab", []string{quoted + "\t$x"}, `$'it\'s-a-s3cret pass\t$x'`, `$'***'`},
		{"declare -p", []string{`"q" $x`}, `declare -x Q="\"q\" \$x"`, `declare -x Q="***"`},
		{"printf %q, a leading #", []string{"#hash-val"}, `\#hash-val and x\ #hash-val`, `*** and x\ ***`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := secret.NewMasker(tc.secrets...)
			if got := m.String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := string(m.Bytes([]byte(tc.in))); got != tc.want {
				t.Errorf("Bytes(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestInvisible: the ranges invisible knows agree with Unicode's tables in
// this Go release, for every code point.
func TestInvisible(t *testing.T) {
	t.Parallel()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Prepended_Concatenation_Mark, r) ||
			unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
		if got := secret.Invisible(r); got != want {
			t.Errorf("invisible(%U) = %t, want %t", r, got, want)
		}
	}
}

// TestMaskerShellForms has real bash print secrets as shell tasks print
// them: traced with set -x (alone and inside a word), quoted with printf %q
// (alone, after a space, after "=", and in a word that needs $'…'),
// ${X@Q}, declare -p and an unquoted echo, in a UTF-8 locale and in C. Each
// secret holds one character that some quoting escapes, at its start, in
// its middle or at its end; what bash prints must keep no part of it.
func TestMaskerShellForms(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine:", err)
	}
	const script = `
set -x; : "Authorization: Bearer $S"; : "$S"; set +x
printf '%q\n' "$S" "Bearer $S" "KEY=$S" "$S"$'\001'
echo "${S@Q}"
declare -p S
echo $S
`
	chars := strings.Split(" |!|\"|#|$|%|&|'|(|)|*|+|,|-|.|/|:|;|<|=|>|?|@|[|\\|]|^|_|`|{|}|~|\t|\n|\r|\x01|\x1b|\x7f|  |ß|😀|\u00a0|\u200b|\u2028|\u0085|\xff|'\\''|$'x'", "|")
	for _, c := range chars {
		for _, value := range []string{c + "s3cr3t-t0k3n", "s3cr3t" + c + "t0k3n", "s3cr3t-t0k3n" + c} {
			for _, locale := range []string{"C.UTF-8", "C"} {
				t.Run(fmt.Sprintf("%+q/%s", value, locale), func(t *testing.T) {
					t.Parallel()
					cmd := exec.Command(bash, "-c", script)
					cmd.Env = []string{"LC_ALL=" + locale, "S=" + value, "PATH=" + os.Getenv("PATH")}
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("bash: %v\n%s", err, out)
					}
					m := secret.NewMasker(value)
					// A log gets the output line by line; an error or an
					// output, whole.
					for _, text := range append(strings.Split(string(out), "\n"), string(out)) {
						if got := m.String(text); strings.Contains(got, "s3cr3t") || strings.Contains(got, "t0k3n") {
							t.Errorf("String(%+q) = %+q", text, got)
						}
					}
				})
			}
		}
	}
}

func TestMaskerEmpty(t *testing.T) {
	t.Parallel()
	var nilMasker *secret.Masker
	for _, m := range []*secret.Masker{nilMasker, {}, secret.NewMasker(), secret.NewMasker("", "ab")} {
		if !m.Empty() || m.String("abc ab") != "abc ab" {
			t.Errorf("%+v masks something", m)
		}
	}
	if secret.NewMasker("abc").Empty() {
		t.Error("a masker of abc is empty")
	}
	in := []byte("nothing here")
	if out := secret.NewMasker("secret").Bytes(in); &out[0] != &in[0] {
		t.Error("Bytes copied a line it did not change")
	}
}

// FuzzMasker: no text keeps a secret in it, as it is or as a display shows
// it (a terminal, a page that strips escape codes, a reader of quoted text
// who reads past escaped escape codes); and a value too short is never
// masked.
func FuzzMasker(f *testing.F) {
	f.Add("hunter2", "user hunter2 logged in")
	f.Add("we\"ird\\", `got "we\"ird\\"`)
	f.Add("line1\nline2", "line1 and line2…")
	f.Add("Sup3r$ecret", "ansi: Sup3r\x1b[0m$ecret")
	f.Add("Sup3r$ecret", "XXXXX$ecret\rSup3r and Sup3r\\x1b[0m$ecret and Sup3r\u200b$ecret")
	f.Add("it's a s3cret", `+ : 'Bearer it'\''s a s3cret' it\'s\ a\ s3cret`)
	f.Add("  two  words ", "echo two words")
	f.Fuzz(func(t *testing.T, value, text string) {
		if secret.SameOnTerminal(text) && secret.Terminal(text) != secret.Stripped(text) {
			t.Fatalf("%+q: stripped says a terminal shows the same, but it shows %+q, not %+q", text, secret.Terminal(text), secret.Stripped(text))
		}
		out := secret.NewMasker(value).String(text)
		if len(value) < secret.MinMaskLength {
			if out != text {
				t.Fatalf("a value of %d bytes changed %q to %q", len(value), text, out)
			}
			return
		}
		if strings.Contains(value, "*") {
			return // Masked next to a part of the value can make it again
		}
		for _, view := range []struct {
			name string
			of   func(string) string
		}{
			{"as it is", func(s string) string { return s }},
			{"on a terminal", secret.Terminal},
			{"stripped", secret.Stripped},
			{"unescaped, on a terminal", func(s string) string { return secret.Terminal(secret.Unescaped(s)) }},
			{"unescaped, stripped", func(s string) string { return secret.Stripped(secret.Unescaped(s)) }},
		} {
			if shown := view.of(out); strings.Contains(shown, value) {
				t.Fatalf("String(%+q) = %+q, which shows %+q %s: %+q", text, out, value, view.name, shown)
			}
		}
	})
}

// BenchmarkMaskerLine is the cost the mask adds to each log line of a
// task: with no secrets, with one token, and with a 3 KiB key of 50 lines
// (each line, and its quoted and escaped forms, is looked for); for an
// ordinary line, a coloured one (its escape codes are looked through), and
// the worst cases of the cut marks, which a task can print from the data
// it reads: a 63 KiB line of "…", and one of the key's public first line
// cut short again and again.
func BenchmarkMaskerLine(b *testing.B) {
	var pem strings.Builder
	pem.WriteString("-----BEGIN PRIVATE KEY-----\n")
	for i := 0; i < 48; i++ {
		fmt.Fprintf(&pem, "%064x\n", i*7919+1)
	}
	pem.WriteString("-----END PRIVATE KEY-----")
	const token = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	line := "2026-12-04T13:45:05Z INFO loaded 1000 rows into orders_2026_12_04 from s3://bucket/exports/orders.csv in 1.2s"
	coloured := "\x1b[32m2026-12-04T13:45:05Z\x1b[0m \x1b[1mINFO\x1b[0m loaded 1000 rows into orders_2026_12_04 from s3://bucket/exports/orders.csv in 1.2s"
	marks := strings.Repeat("…", 63<<10/len("…"))
	begins := strings.Repeat("-----BEGIN PRIVATE…", 63<<10/len("-----BEGIN PRIVATE…"))
	for _, bc := range []struct {
		name    string
		secrets []string
		line    string
	}{
		{"none", nil, line},
		{"token", []string{token}, line},
		{"pem", []string{pem.String()}, line},
		{"token/coloured", []string{token}, coloured},
		{"pem/63KiB of cut marks", []string{pem.String()}, marks},
		{"pem/63KiB of cut beginnings", []string{pem.String()}, begins},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := secret.NewMasker(bc.secrets...)
			line := []byte(bc.line)
			b.SetBytes(int64(len(line)))
			for i := 0; i < b.N; i++ {
				_ = m.Bytes(line)
			}
		})
	}
}

// BenchmarkNewMasker is the cost of arming an attempt's mask with a key of
// 50 lines: its forms, and the automaton that finds them.
func BenchmarkNewMasker(b *testing.B) {
	var pem strings.Builder
	pem.WriteString("-----BEGIN PRIVATE KEY-----\n")
	for i := 0; i < 48; i++ {
		fmt.Fprintf(&pem, "%064x\n", i*7919+1)
	}
	pem.WriteString("-----END PRIVATE KEY-----")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = secret.NewMasker(pem.String())
	}
}
