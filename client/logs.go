package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
)

// decodeBody decodes a JSON response body into out.
func decodeBody(resp *http.Response, out any) error {
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the answer to %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

func logsPath(run int64, task string) string { return runPath(run) + "/tasks/" + esc(task) + "/logs" }

// logsQuery is the query of a log: item is a mapped task's item (-1 for
// the task itself), attempt the attempt number (0 for the latest).
func logsQuery(item, attempt int) url.Values {
	q := url.Values{}
	if item >= 0 {
		q.Set("item", strconv.Itoa(item))
	}
	if attempt > 0 {
		q.Set("attempt", strconv.Itoa(attempt))
	}
	return q
}

// Logs returns the log of a task's attempt as it is now: attempt is the
// attempt number, or 0 for the latest. A task that has not started has an
// empty log.
func (c *Client) Logs(ctx context.Context, run int64, task string, attempt int) ([]api.LogLine, error) {
	return c.ItemLogs(ctx, run, task, -1, attempt)
}

// ItemLogs is Logs of one item of a mapped task (for_each): item is its
// map index, from 0; -1 means the task itself, as Logs.
func (c *Client) ItemLogs(ctx context.Context, run int64, task string, item, attempt int) ([]api.LogLine, error) {
	req, err := c.request(ctx, http.MethodGet, logsPath(run, task), logsQuery(item, attempt), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := c.send(c.http, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	lines := []api.LogLine{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		lines = append(lines, ParseLogLine(sc.Text()))
	}
	return lines, sc.Err()
}

// ParseLogLine reads one line of the text form of a log,
// "<time> <stream> <text>". A line not of that form is returned whole as
// the text.
func ParseLogLine(s string) api.LogLine {
	ts, rest, ok1 := strings.Cut(s, " ")
	stream, text, ok2 := strings.Cut(rest, " ")
	if !ok2 && ok1 && (rest == "stdout" || rest == "stderr" || rest == "sluice") {
		stream, text, ok2 = rest, "", true
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok1 || !ok2 || err != nil {
		return api.LogLine{Stream: "sluice", Line: s}
	}
	return api.LogLine{Time: t, Stream: stream, Line: text}
}

// maxReconnects bounds how often FollowLogs picks a broken stream up again.
const maxReconnects = 5

// FollowLogs calls fn with each line of a task attempt's log as it is
// written, from the first, until the attempt has finished and its log is
// complete; attempt 0 follows the latest attempt, or waits for the first
// one of a task that has not started. It returns how the attempt ended. A
// stream that breaks (a restarting server, a proxy's timeout) is picked
// up again where it stopped, a few times.
func (c *Client) FollowLogs(ctx context.Context, run int64, task string, attempt int, fn func(api.LogLine)) (*api.LogEnd, error) {
	return c.FollowItemLogs(ctx, run, task, -1, attempt, fn)
}

// FollowItemLogs is FollowLogs of one item of a mapped task (for_each):
// item is its map index, from 0; -1 means the task itself, as FollowLogs.
func (c *Client) FollowItemLogs(ctx context.Context, run int64, task string, item, attempt int, fn func(api.LogLine)) (*api.LogEnd, error) {
	// No timeout: a log is followed for as long as its task runs.
	hc := *c.http
	hc.Timeout = 0
	q := logsQuery(item, attempt)
	q.Set("follow", "true")
	lastID := ""
	for try := 0; ; try++ {
		req, err := c.request(ctx, http.MethodGet, logsPath(run, task), q, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		end, err := c.stream(&hc, req, &lastID, fn)
		if end != nil || err == nil {
			return end, err
		}
		if ctx.Err() != nil || sluice.ErrorCode(err) != sluice.EUNAVAIL || try >= maxReconnects {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(try+1) * 500 * time.Millisecond):
		}
	}
}

// stream reads server-sent events until the "end" event. A stream that
// stops before it is an EUNAVAIL error.
func (c *Client) stream(hc *http.Client, req *http.Request, lastID *string, fn func(api.LogLine)) (*api.LogEnd, error) {
	resp, err := c.send(hc, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return nil, fmt.Errorf("following a log: the server answered %q, not text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		event, id string
		data      strings.Builder
	)
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "id":
				id = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
			continue
		}
		// A blank line dispatches the event.
		switch event {
		case "", "message":
			if data.Len() > 0 {
				var l api.LogLine
				if err := json.Unmarshal([]byte(data.String()), &l); err != nil {
					return nil, fmt.Errorf("following a log: bad event %q: %w", data.String(), err)
				}
				fn(l)
			}
		case "end":
			var end api.LogEnd
			if err := json.Unmarshal([]byte(data.String()), &end); err != nil {
				return nil, fmt.Errorf("following a log: bad end event %q: %w", data.String(), err)
			}
			return &end, nil
		case "error":
			var body api.ErrorResponse
			if err := json.Unmarshal([]byte(data.String()), &body); err != nil || body.Error.Code == "" {
				return nil, fmt.Errorf("following a log: the server failed: %s", data.String())
			}
			return nil, &sluice.Error{Code: body.Error.Code, Message: body.Error.Message, Details: body.Error.Details}
		}
		if id != "" {
			*lastID = id
		}
		event, id = "", ""
		data.Reset()
	}
	err = sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	if ctxErr := req.Context().Err(); ctxErr != nil {
		return nil, ctxErr
	}
	return nil, &sluice.Error{Code: sluice.EUNAVAIL, Message: fmt.Sprintf("the log stream from %s broke before the attempt finished: %v", c.base, err)}
}
