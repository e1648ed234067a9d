package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
)

// HTTPRequest is an HTTP task's request, with its expressions rendered.
type HTTPRequest struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    string
	// Expect lists the statuses that mean success; empty means any 2xx.
	Expect  []int
	Timeout time.Duration
	// MaxBody bounds the response body kept as the body output; default
	// 64 KiB. A longer body is cut, and the log says so.
	MaxBody int
	Log     LogSink
}

// client is shared by HTTP tasks, callbacks and sensors; each request
// carries its own timeout.
var client = &http.Client{}

// RunHTTP makes an HTTP task's request. Its outputs are the response's
// status and body.
func RunHTTP(ctx context.Context, r *HTTPRequest) *Result {
	res := &Result{Started: time.Now()}
	max := r.MaxBody
	if max <= 0 {
		max = DefaultMaxOutput
	}
	status, body, truncated, err := do(ctx, r, max)
	res.Finished = time.Now()
	logf(r.Log, "%s %s → %s", r.Method, r.URL, statusText(status, err))
	if err != nil {
		res.State = sluice.AttemptFailed
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			res.State = sluice.AttemptTimedOut
			res.Error = fmt.Sprintf("%s %s: no answer within %s", r.Method, r.URL, r.Timeout)
			return res
		}
		if ctx.Err() != nil {
			res.Stopped = true
		}
		res.Error = fmt.Sprintf("%s %s: %v", r.Method, r.URL, err)
		return res
	}
	if truncated {
		logf(r.Log, "the response body was cut to its first %d bytes for the body output", max)
	}
	res.Outputs = map[string]string{"status": strconv.Itoa(status), "body": body}
	if !expected(status, r.Expect) {
		res.State = sluice.AttemptFailed
		want := "a 2xx status"
		if len(r.Expect) > 0 {
			want = fmt.Sprint(r.Expect)
		}
		res.Error = fmt.Sprintf("%s %s answered %d, want %s: %s", r.Method, r.URL, status, want, snippet(body))
		res.Outputs = nil
		return res
	}
	res.State = sluice.AttemptSuccess
	return res
}

func do(ctx context.Context, r *HTTPRequest, max int) (status int, body string, truncated bool, err error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var rd io.Reader
	if r.Body != "" {
		rd = strings.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, rd)
	if err != nil {
		return 0, "", false, err
	}
	req.Header.Set("User-Agent", "sluice")
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return resp.StatusCode, "", false, err
	}
	if len(data) > max {
		data, truncated = data[:max], true
	}
	return resp.StatusCode, string(data), truncated, nil
}

func expected(status int, want []int) bool {
	if len(want) == 0 {
		return status >= 200 && status < 300
	}
	for _, s := range want {
		if s == status {
			return true
		}
	}
	return false
}

func statusText(status int, err error) string {
	if err != nil {
		return "error"
	}
	return strconv.Itoa(status)
}

func snippet(s string) string { return truncate(strings.TrimSpace(s), 200) }

func logf(l LogSink, format string, args ...any) {
	if l != nil {
		l.Line(System, time.Now(), []byte(fmt.Sprintf(format, args...)))
	}
}

// FileExists reports whether a path or glob pattern matches a file.
func FileExists(pattern string) (bool, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return false, fmt.Errorf("bad pattern %q: %w", pattern, err)
	}
	return len(matches) > 0, nil
}

// URLAnswers reports whether a GET of url answers 2xx within timeout.
func URLAnswers(ctx context.Context, url string, timeout time.Duration) (bool, string) {
	status, _, _, err := do(ctx, &HTTPRequest{Method: http.MethodGet, URL: url, Timeout: timeout}, 1024)
	if err != nil {
		return false, err.Error()
	}
	return status >= 200 && status < 300, "answered " + strconv.Itoa(status)
}
