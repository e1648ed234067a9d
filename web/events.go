package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/internal/httpstream"
	"github.com/sluice-dev/sluice/store"
)

// Live updates. A page's live region carries hx-trigger="sse:changed" and
// sits inside an element with sse-connect to one of the streams below. A
// stream sums up what the page shows in a fingerprint (the page passes the
// one it was rendered with as ?fp=), recomputes it whenever the store
// notifies a topic it cares about, or at the latest every pollEvery, and
// sends a "changed" event when it differs; the region then re-fetches
// itself. Notifications are hints and another process's changes may come
// only by polling, so the poll is what makes a stream correct, and the
// notification what makes it fast.
const (
	pollEvery = time.Second
	// logPollEvery is the poll of a running task's log, whose new lines
	// come with no notification.
	logPollEvery = 500 * time.Millisecond
	// minCheckGap bounds how often a busy store makes a stream recheck.
	minCheckGap = 200 * time.Millisecond
	keepAlive   = 15 * time.Second
)

// sseWriter writes server-sent events.
type sseWriter struct {
	rw http.ResponseWriter
	rc *http.ResponseController
	// gone is set when a write failed: the client went away.
	gone bool
}

// event sends one event; data may span lines.
func (s *sseWriter) event(name, id, data string) error {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
	return s.write(b.String())
}

func (s *sseWriter) comment(text string) error { return s.write(": " + text + "\n\n") }

func (s *sseWriter) write(str string) error {
	_, err := s.rw.Write([]byte(str))
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.gone = true
	}
	return err
}

// streamFunc runs one event stream until it fails, the client goes away
// or the server shuts down (ctx ends).
type streamFunc func(ctx context.Context, s *sseWriter, r *http.Request) error

// events serves an event stream to those who may do act.
func (w *Web) events(act auth.Action, f streamFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := auth.Allow(r.Context(), act); err != nil {
			http.Error(rw, sluice.ErrorMessage(err), status(sluice.ErrorCode(err)))
			return
		}
		ctx, cancel := httpstream.Context(r)
		defer cancel()
		// The stream ends when its principal may no longer see it; the
		// page's next request then meets the login page or a 403.
		ctx = w.cfg.Auth.Watch(ctx, r, act)
		h := rw.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // no buffering in nginx
		rw.WriteHeader(http.StatusOK)
		s := &sseWriter{rw: rw, rc: http.NewResponseController(rw)}
		if err := s.comment("sluice"); err != nil {
			return
		}
		err := f(ctx, s, r)
		switch {
		case err == nil || ctx.Err() != nil || s.gone:
		case sluice.ErrorCode(err) == sluice.ENOTFOUND:
			// The thing was deleted: the page learns it by refreshing.
			// Stay connected, or the browser would reconnect over and over.
			if s.event("changed", "", "gone") == nil {
				idle(ctx, s)
			}
		default:
			w.log.Warn("event stream ended", "path", r.URL.Path, "err", err)
			_ = s.event("error", "", sluice.ErrorMessage(err))
		}
	})
}

// idle keeps a stream open with keep-alives until ctx ends.
func idle(ctx context.Context, s *sseWriter) {
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keep.C:
			if s.comment("keep-alive") != nil {
				return
			}
		}
	}
}

// watch calls check now, then again whenever one of topics is notified
// (at most every minCheckGap) or poll passes, sending keep-alive comments,
// until check fails or ctx ends.
func (w *Web) watch(ctx context.Context, s *sseWriter, topics []store.Topic, poll time.Duration, check func() error) error {
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	var a, b <-chan struct{}
	for {
		// Take the channels before looking, so that a change between the
		// look and the wait is not lost.
		if len(topics) > 0 {
			a = w.st.Wait(topics[0])
		}
		if len(topics) > 1 {
			b = w.st.Wait(topics[1])
		}
		if err := check(); err != nil {
			return err
		}
		last := time.Now()
		timer := time.NewTimer(poll)
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-keep.C:
				if err := s.comment("keep-alive"); err != nil {
					timer.Stop()
					return nil
				}
				continue
			case <-a:
			case <-b:
			case <-timer.C:
			}
			break wait
		}
		timer.Stop()
		if gap := minCheckGap - time.Since(last); gap > 0 {
			t := time.NewTimer(gap)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// changes sends "changed" whenever fingerprint differs from the last one
// sent (or from the page's, given as ?fp=).
func (w *Web) changes(ctx context.Context, s *sseWriter, r *http.Request, topics []store.Topic, fingerprint func() (string, error)) error {
	// Without a fingerprint from the page, the first one is the baseline.
	last := r.URL.Query().Get("fp")
	baseline := last == ""
	return w.watch(ctx, s, topics, pollEvery, func() error {
		fp, err := fingerprint()
		if err != nil {
			return err
		}
		if baseline {
			last, baseline = fp, false
		}
		if fp != last {
			last = fp
			return s.event("changed", "", fp)
		}
		return nil
	})
}

func (w *Web) pipelinesEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	filter, _, _, err := readPipelinesFilter(r)
	if err != nil {
		return err
	}
	return w.changes(ctx, s, r, []store.Topic{store.TopicRuns, store.TopicPipelines}, func() (string, error) {
		all, _, recent, err := w.pipelinesState(ctx, filter, pageParam(r))
		if err != nil {
			return "", err
		}
		return pipelinesFingerprint(all, recent), nil
	})
}

func (w *Web) pipelineEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return w.changes(ctx, s, r, []store.Topic{store.TopicRuns, store.TopicInstances}, func() (string, error) {
		return w.pipelineFingerprint(ctx, id)
	})
}

func (w *Web) runEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	tick := r.URL.Query().Get("tick") == "1"
	return w.changes(ctx, s, r, []store.Topic{store.TopicRuns, store.TopicInstances}, func() (string, error) {
		var now time.Time
		if tick {
			now = w.clock.Now()
		}
		return w.runFingerprint(ctx, id, now)
	})
}

// logEvents follows a task of a run: "lines" events carry new lines of
// the attempt's log as HTML (their id is the last chunk's sequence number,
// so a reconnecting browser resumes after it), and "changed" says that the
// task's state or attempts changed.
func (w *Web) logEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	runID, err := pathID(r, "run")
	if err != nil {
		return err
	}
	task := r.PathValue("task")
	number, _ := strconv.Atoi(r.PathValue("attempt"))
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	if id, err := strconv.Atoi(r.Header.Get("Last-Event-ID")); err == nil && id > after {
		after = id
	}
	last := r.URL.Query().Get("fp")
	item := itemParam(r)
	v := w.newView(r, "", "", nil)
	var attemptID int64
	return w.watch(ctx, s, []store.Topic{store.TopicInstances}, logPollEvery, func() error {
		in, err := w.findInstance(ctx, runID, task, item)
		if err != nil {
			return err
		}
		if attemptID == 0 && number > 0 {
			as, err := w.st.AttemptList(ctx, in.ID)
			if err != nil {
				return err
			}
			for _, a := range as {
				if a.Number == number {
					attemptID = a.ID
				}
			}
		}
		if attemptID != 0 {
			chunks, err := w.st.LogList(ctx, attemptID, after)
			if err != nil {
				return err
			}
			if len(chunks) > 0 {
				for _, c := range chunks {
					after = max(after, c.Seq)
				}
				v.Now = w.clock.Now()
				var buf bytes.Buffer
				if err := w.tmpl.base().ExecuteTemplate(&buf, "log-lines", v.WithLines(parseLog(chunks))); err != nil {
					return err
				}
				if err := s.event("lines", strconv.Itoa(after), buf.String()); err != nil {
					return err
				}
			}
		}
		if fp := instanceFingerprint(in); fp != last {
			last = fp
			return s.event("changed", "", fmt.Sprint(fp))
		}
		return nil
	})
}
