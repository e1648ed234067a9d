package control_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/control"
)

func TestParseLog(t *testing.T) {
	t.Parallel()
	at := time.UnixMicro(1764158400123456).UTC()
	for _, tc := range []struct {
		in   string
		want []control.LogLine
	}{
		{"", nil},
		{"1764158400123456 o hello world\n", []control.LogLine{{Time: at, Stream: "stdout", Text: "hello world"}}},
		{"1764158400123456 e oops\n1764158400123456 s sluice: 3 lines dropped\n", []control.LogLine{
			{Time: at, Stream: "stderr", Text: "oops"}, {Time: at, Stream: "sluice", Text: "sluice: 3 lines dropped"}}},
		{"1764158400123456 o \n", []control.LogLine{{Time: at, Stream: "stdout", Text: ""}}},
		{"1764158400123456 o", []control.LogLine{{Time: at, Stream: "stdout", Text: ""}}},
		{"1764158400123456 o  two spaces\n", []control.LogLine{{Time: at, Stream: "stdout", Text: " two spaces"}}},
		// Not of the stored form: kept whole, never dropped.
		{"garbage\n", []control.LogLine{{Stream: "sluice", Text: "garbage"}}},
		{"12 x what\n", []control.LogLine{{Stream: "sluice", Text: "12 x what"}}},
		{"12 ox what\n", []control.LogLine{{Stream: "sluice", Text: "12 ox what"}}},
	} {
		got := control.ParseLog([]byte(tc.in))
		if len(got) != len(tc.want) {
			t.Errorf("ParseLog(%q) = %+v, want %+v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if !got[i].Time.Equal(tc.want[i].Time) || got[i].Stream != tc.want[i].Stream || got[i].Text != tc.want[i].Text {
				t.Errorf("ParseLog(%q)[%d] = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}
