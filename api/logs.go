package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/internal/httpstream"
	"github.com/sluice-dev/sluice/store"
)

// LogTimeFormat is the time format of the text form of a log: RFC 3339 in
// UTC with microseconds, always the same width.
const LogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Timings of a followed log.
const (
	// logPoll is how often a running attempt's log is read: lines arrive
	// without a notification.
	logPoll = 300 * time.Millisecond
	// logKeepAlive is how often an idle stream sends a comment, so that
	// proxies keep it open.
	logKeepAlive = 15 * time.Second
)

func (a *API) logs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	runID, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	number, err := queryInt(q.Get("attempt"), "attempt", 0)
	if err != nil {
		return err
	}
	follow := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if s := q.Get("follow"); s != "" {
		if follow, err = strconv.ParseBool(s); err != nil {
			return sluice.Errorf(sluice.EBADREQUEST, "follow=%q: want true or false", s)
		}
	}
	item, err := itemQuery(r)
	if err != nil {
		return err
	}
	in, err := a.instance(ctx, runID, r.PathValue("task"), item)
	if err != nil {
		return err
	}
	at, err := a.attempt(ctx, in, int(number))
	if err != nil {
		return err
	}
	if follow {
		a.followLogs(w, r, in, int(number), at)
		return nil
	}
	var chunks []*store.LogChunk
	if at != nil {
		if chunks, err = a.st.LogList(ctx, at.ID, 0); err != nil {
			return err
		}
		w.Header().Set("X-Sluice-Attempt", strconv.Itoa(at.Number))
		w.Header().Set("X-Sluice-Attempt-State", string(at.State))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	for _, c := range chunks {
		for _, l := range control.ParseLog(c.Data) {
			fmt.Fprintf(bw, "%s %s %s\n", l.Time.Format(LogTimeFormat), l.Stream, l.Text)
		}
	}
	return bw.Flush()
}

// attempt returns attempt number of an instance, or its latest when number
// is 0 (nil when it has none yet).
func (a *API) attempt(ctx context.Context, in *store.Instance, number int) (*store.Attempt, error) {
	atts, err := a.st.AttemptList(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if number == 0 {
		if len(atts) == 0 {
			return nil, nil
		}
		return atts[len(atts)-1], nil
	}
	for _, at := range atts {
		if at.Number == number {
			return at, nil
		}
	}
	return nil, sluice.Errorf(sluice.ENOTFOUND, "task %q of run %d has no attempt %d: it has %d", in.TaskID, in.RunID, number, len(atts))
}

// followLogs streams an attempt's log as server-sent events until the
// attempt has finished and its log is complete. Without an attempt yet, it
// waits for the task's first one. Errors after the stream started are sent
// as an "error" event, since the status is already written.
func (a *API) followLogs(w http.ResponseWriter, r *http.Request, in *store.Instance, number int, at *store.Attempt) {
	// The stream ends when the server shuts down; the client resumes from
	// another web process with Last-Event-ID.
	ctx, cancel := httpstream.Context(r)
	defer cancel()
	// It ends too when the principal may no longer read it (the user was
	// disabled or deleted, the token revoked), saying why.
	ctx = a.auth.Watch(ctx, r, auth.View)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events through at once
	w.WriteHeader(http.StatusOK)
	// Lines already received, when an EventSource reconnects.
	skip, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	ev := &eventWriter{w: w}
	fail := func(err error) {
		if ctx.Err() != nil {
			return
		}
		status, body := errorBody(err)
		if status == http.StatusInternalServerError {
			a.logger(r).Error("api: following a log", "run", in.RunID, "task", in.TaskID, "err", err)
		}
		ev.send("error", "", ErrorResponse{Error: body})
		_ = rc.Flush()
	}
	ev.comment("following the log of task " + in.TaskID + " of run " + strconv.FormatInt(in.RunID, 10))
	_ = rc.Flush()

	poll := time.NewTicker(logPoll)
	defer poll.Stop()
	lastWrite := time.Now()
	seq, line := 0, 0
	for {
		wake := a.st.Wait(store.TopicInstances)
		var state sluice.AttemptState
		if at == nil {
			cur, err := a.instance(ctx, in.RunID, in.TaskID, in.MapIndex)
			if err != nil {
				fail(err)
				return
			}
			if at, err = a.attempt(ctx, cur, number); err != nil {
				fail(err)
				return
			}
			if at == nil && cur.State.Finished() {
				ev.send("end", "", LogEnd{Attempt: 0, State: string(cur.State)})
				_ = rc.Flush()
				return
			}
		}
		if at != nil {
			// The state first, then the log: once the state says finished,
			// the log read after it is complete, because an attempt's last
			// chunk is stored with its outcome, in one transaction.
			atts, err := a.st.AttemptList(ctx, in.ID)
			if err != nil {
				fail(err)
				return
			}
			for _, x := range atts {
				if x.ID == at.ID {
					state = x.State
				}
			}
			chunks, err := a.st.LogList(ctx, at.ID, seq)
			if err != nil {
				fail(err)
				return
			}
			for _, c := range chunks {
				seq = c.Seq
				for _, l := range control.ParseLog(c.Data) {
					line++
					if line > skip {
						ev.send("", strconv.Itoa(line), LogLine{Time: l.Time, Stream: l.Stream, Line: l.Text})
					}
				}
			}
			if len(chunks) > 0 {
				lastWrite = time.Now()
				if err := rc.Flush(); err != nil {
					return // the client went away
				}
			}
			if state != "" && state != sluice.AttemptRunning {
				ev.send("end", "", LogEnd{Attempt: at.Number, State: string(state)})
				_ = rc.Flush()
				return
			}
		}
		if ev.err != nil {
			return
		}
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); sluice.ErrorCode(cause) == sluice.EFORBIDDEN {
				_, body := errorBody(cause)
				ev.send("error", "", ErrorResponse{Error: body})
				_ = rc.Flush()
			}
			return
		case <-wake:
		case <-poll.C:
		}
		if time.Since(lastWrite) >= logKeepAlive {
			ev.comment("keep-alive")
			if err := rc.Flush(); err != nil {
				return
			}
			lastWrite = time.Now()
		}
	}
}

// eventWriter writes server-sent events, keeping the first write error.
type eventWriter struct {
	w   http.ResponseWriter
	err error
	buf bytes.Buffer
}

// send writes one event: its name (empty for the default "message"), its
// id (empty for none) and v as JSON data on one line.
func (e *eventWriter) send(name, id string, v any) {
	e.buf.Reset()
	if name != "" {
		e.buf.WriteString("event: " + name + "\n")
	}
	if id != "" {
		e.buf.WriteString("id: " + id + "\n")
	}
	e.buf.WriteString("data: ")
	enc := json.NewEncoder(&e.buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // ends the line
	e.buf.WriteString("\n")
	e.write()
}

// comment writes an SSE comment, which clients ignore.
func (e *eventWriter) comment(text string) {
	e.buf.Reset()
	e.buf.WriteString(": " + strings.ReplaceAll(text, "\n", " ") + "\n\n")
	e.write()
}

func (e *eventWriter) write() {
	if e.err != nil {
		return
	}
	_, e.err = e.w.Write(e.buf.Bytes())
}
