package executor

import (
	"bytes"
	"time"
)

// LineWriter is an io.Writer that hands what is written to Sink one line
// at a time, as the process executor does with a pipe: without the
// newline, and split at maxLine bytes. It is for output that arrives as a
// byte stream rather than a pipe, such as a container's, demultiplexed.
// Close hands over a last line that has no newline. A LineWriter is not
// safe for concurrent use.
type LineWriter struct {
	Stream Stream
	Sink   LogSink
	buf    []byte
}

// Write implements io.Writer; it never fails.
func (w *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLine {
				w.emit(w.buf[:maxLine])
				w.buf = append(w.buf[:0], w.buf[maxLine:]...)
			}
			break
		}
		line := p[:i]
		if len(w.buf) > 0 {
			w.buf = append(w.buf, line...)
			line = w.buf
		}
		for len(line) > maxLine {
			w.emit(line[:maxLine])
			line = line[maxLine:]
		}
		w.emit(line)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Close hands over what is left without a newline.
func (w *LineWriter) Close() error {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	return nil
}

func (w *LineWriter) emit(line []byte) {
	if w.Sink != nil {
		w.Sink.Line(w.Stream, time.Now(), line)
	}
}
