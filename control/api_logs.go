package control

import (
	"bytes"
	"strconv"
	"time"
)

// LogLine is one line of an attempt's log.
type LogLine struct {
	Time time.Time
	// Stream is "stdout", "stderr" or "sluice" (lines sluice itself wrote
	// into the log, such as a note that lines were dropped).
	Stream string
	Text   string
}

// The streams of a LogLine.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamSluice = "sluice"
)

// ParseLog splits a stored log chunk (lines "<unix micros> <o|e|s> <text>\n",
// see store.LogChunk) into lines. A line that does not have that form is
// kept whole as a sluice line at time zero rather than dropped: a log
// shows everything it holds.
func ParseLog(data []byte) []LogLine {
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil
	}
	var out []LogLine
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		out = append(out, parseLogLine(line))
	}
	return out
}

func parseLogLine(line []byte) LogLine {
	us, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 1 || (len(rest) > 1 && rest[1] != ' ') {
		return LogLine{Stream: StreamSluice, Text: string(line)}
	}
	n, err := strconv.ParseInt(string(us), 10, 64)
	if err != nil {
		return LogLine{Stream: StreamSluice, Text: string(line)}
	}
	var stream string
	switch rest[0] {
	case 'o':
		stream = StreamStdout
	case 'e':
		stream = StreamStderr
	case 's':
		stream = StreamSluice
	default:
		return LogLine{Stream: StreamSluice, Text: string(line)}
	}
	text := ""
	if len(rest) > 2 {
		text = string(rest[2:])
	}
	return LogLine{Time: time.UnixMicro(n).UTC(), Stream: stream, Text: text}
}
