package secret_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/secret"
)

func TestMasker(t *testing.T) {
	t.Parallel()
	const (
		token = "tok-9f8e7d6c"
		weird = "we\"ird\\pa\tß<&>\x01-42"
		pem   = "-----BEGIN KEY-----\r\n  abcdef123456\r\nzyxw\n}\n-----END KEY-----"
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

func FuzzMasker(f *testing.F) {
	f.Add("hunter2", "user hunter2 logged in")
	f.Add("we\"ird\\", `got "we\"ird\\"`)
	f.Add("line1\nline2", "line1 and line2…")
	f.Fuzz(func(t *testing.T, value, text string) {
		out := secret.NewMasker(value).String(text)
		if len(value) >= secret.MinMaskLength && strings.Contains(out, value) && !strings.Contains(secret.Masked, value) {
			t.Fatalf("String(%q) = %q still holds %q", text, out, value)
		}
		if len(value) < secret.MinMaskLength && out != text {
			t.Fatalf("a value of %d bytes changed %q to %q", len(value), text, out)
		}
	})
}

// BenchmarkMaskerLine is the cost the mask adds to each log line of a
// task: with no secrets, with one token, and with a 3 KiB key of 48 lines
// (each line, and its quoted and escaped forms, is looked for).
func BenchmarkMaskerLine(b *testing.B) {
	var pem strings.Builder
	pem.WriteString("-----BEGIN PRIVATE KEY-----\n")
	for i := 0; i < 48; i++ {
		fmt.Fprintf(&pem, "%064x\n", i*7919+1)
	}
	pem.WriteString("-----END PRIVATE KEY-----")
	line := []byte("2026-12-04T13:45:05Z INFO loaded 1000 rows into orders_2026_12_04 from s3://bucket/exports/orders.csv in 1.2s")
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"token", []string{"tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"}},
		{"pem", []string{pem.String()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := secret.NewMasker(bc.secrets...)
			b.SetBytes(int64(len(line)))
			for i := 0; i < b.N; i++ {
				_ = m.Bytes(line)
			}
		})
	}
}
