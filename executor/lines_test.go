package executor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/executor"
)

type sinkFunc func(executor.Stream, time.Time, []byte)

func (f sinkFunc) Line(s executor.Stream, at time.Time, b []byte) { f(s, at, b) }

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var got []string
	w := &executor.LineWriter{Stream: executor.Stderr, Sink: sinkFunc(func(s executor.Stream, _ time.Time, b []byte) {
		if s != executor.Stderr {
			t.Errorf("stream %c", s)
		}
		got = append(got, string(b))
	})}
	long := strings.Repeat("x", 64<<10+5)
	for _, chunk := range []string{"a", "b\nc\n", "\n", "d" + long[:100], long[100:] + "\ntail"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	w.Close()
	want := []string{"ab", "c", "", "d" + long[:64<<10-1], long[64<<10-1:], "tail"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %d bytes %.10q, want %d bytes %.10q", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
}
