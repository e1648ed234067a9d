package executor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"
)

var outputKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ReadOutputs parses the file a task wrote to $SLUICE_OUTPUT, in the format
// of GitHub Actions' $GITHUB_OUTPUT: "key=value" lines, and multi-line
// values as
//
//	key<<DELIMITER
//	line 1
//	line 2
//	DELIMITER
//
// A later value of a key replaces an earlier one. A value longer than max
// bytes, a malformed line or an unterminated block is an error that names
// the line.
func ReadOutputs(path string, max int) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read $SLUICE_OUTPUT: %w", err)
	}
	return ParseOutputs(data, max)
}

// ParseOutputs parses outputs in the format ReadOutputs reads, from data
// that came some other way (a Kubernetes pod's termination message).
func ParseOutputs(data []byte, max int) (map[string]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	outs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if i := strings.Index(line, "<<"); i > 0 && (!strings.Contains(line[:i], "=")) {
			key, delim := line[:i], line[i+2:]
			if !outputKey.MatchString(key) || delim == "" {
				return nil, fmt.Errorf("$SLUICE_OUTPUT line %d: want key<<DELIMITER, got %q", n, line)
			}
			start := n
			var val []string
			closed := false
			for sc.Scan() {
				n++
				l := strings.TrimSuffix(sc.Text(), "\r")
				if l == delim {
					closed = true
					break
				}
				val = append(val, l)
			}
			if !closed {
				return nil, fmt.Errorf("$SLUICE_OUTPUT line %d: %q has no closing %q line", start, key, delim)
			}
			v := strings.Join(val, "\n")
			if len(v) > max {
				return nil, fmt.Errorf("output %q is %d bytes, over the limit of %d: pass large data through files or storage, and only its location as an output", key, len(v), max)
			}
			outs[key] = v
			continue
		}
		key, v, ok := strings.Cut(line, "=")
		if !ok || !outputKey.MatchString(key) {
			return nil, fmt.Errorf("$SLUICE_OUTPUT line %d: want key=value or key<<DELIMITER, got %q", n, truncate(line, 80))
		}
		if len(v) > max {
			return nil, fmt.Errorf("output %q is %d bytes, over the limit of %d: pass large data through files or storage, and only its location as an output", key, len(v), max)
		}
		outs[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read $SLUICE_OUTPUT: %w", err)
	}
	return outs, nil
}

// truncate cuts s to at most n bytes and marks the cut with "…". It cuts
// between characters, never inside one: the worker's mask recognises the
// beginning of a secret before the mark, which a character cut in two
// (quoted as \xNN) would hide from it.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
