package kube

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestCopyLinesAfterReconnect: a stream opened again from the last line's
// time repeats that line; it is skipped whole, even when it is longer
// than the reader's buffer and comes in pieces, and the lines after it
// are kept.
func TestCopyLinesAfterReconnect(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 150_000)
	first := "2026-12-04T23:00:00.000000001Z short\n2026-12-04T23:00:01.000000000Z " + long + "\n"
	var out bytes.Buffer
	var last time.Time
	if !copyLines(strings.NewReader(first), &out, &last) {
		t.Fatal("a stream that ended at EOF did not end cleanly")
	}
	if out.String() != "short\n"+long+"\n" || !last.Equal(time.Date(2026, 12, 4, 23, 0, 1, 0, time.UTC)) {
		t.Fatalf("first stream: %d bytes, last %v", out.Len(), last)
	}
	// Opened again with sinceTime = last: the long line comes again.
	again := "2026-12-04T23:00:01.000000000Z " + long + "\n2026-12-04T23:00:02.5Z after\n" + "2026-12-04T23:00:03Z " + long[:70_000] + "\n"
	out.Reset()
	copyLines(strings.NewReader(again), &out, &last)
	if out.String() != "after\n"+long[:70_000]+"\n" {
		t.Fatalf("second stream wrote %d bytes: %.80q…", out.Len(), out.String())
	}
}

// TestCopyLinesOutOfOrder: the container runtime stamps stdout and
// stderr lines as it reads each pipe, so a log may hold a line with an
// earlier time after a later one (seen on the test cluster's containerd:
// "to stderr" 3 µs before the "first line" above it). Within one stream
// every line is new: none is dropped for its time. A stream opened again
// skips only what is not after the point it resumed from.
func TestCopyLinesOutOfOrder(t *testing.T) {
	t.Parallel()
	first := "2026-12-05T00:41:58.837311138Z first line\n" +
		"2026-12-05T00:41:58.837308068Z to stderr\n" +
		"2026-12-05T00:41:58.837400000Z token is x\n"
	var out bytes.Buffer
	var last time.Time
	copyLines(strings.NewReader(first), &out, &last)
	if out.String() != "first line\nto stderr\ntoken is x\n" {
		t.Fatalf("first stream wrote %q", out.String())
	}
	if !last.Equal(time.Date(2026, 12, 5, 0, 41, 58, 837400000, time.UTC)) {
		t.Fatalf("last %v", last)
	}
	// Opened again from the last time: the lines up to it were seen.
	again := "2026-12-05T00:41:58.837311138Z first line\n" +
		"2026-12-05T00:41:58.837400000Z token is x\n" +
		"2026-12-05T00:41:59.1Z later\n" +
		"2026-12-05T00:41:59.05Z later on stderr\n"
	out.Reset()
	copyLines(strings.NewReader(again), &out, &last)
	if out.String() != "later\nlater on stderr\n" {
		t.Fatalf("second stream wrote %q", out.String())
	}
}
