package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
)

type workersData struct {
	Workers []*workerRow
	// Alive counts the live workers, Slots their concurrency, and
	// WithProblems the workers whose environment check found problems.
	Alive, Slots, WithProblems int
	Fingerprint                string
}

type workerRow struct {
	*store.WorkerInfo
	// Status is alive, draining or gone (not seen for scheduler.WorkerTTL:
	// it is forgotten after scheduler.WorkerForget).
	Status string
}

// StatusText says what the status means.
func (r *workerRow) StatusText() string {
	switch r.Status {
	case "draining":
		return "draining: finishes its tasks, claims no new ones"
	case "gone":
		return "not seen for over " + roughDuration(scheduler.WorkerTTL) + ": stopped or cut off"
	}
	return "alive: claims tasks"
}

func workerStatus(wk *store.WorkerInfo, now time.Time) string {
	switch {
	case now.Sub(wk.LastSeenAt) > scheduler.WorkerTTL:
		return "gone"
	case wk.Draining:
		return "draining"
	}
	return "alive"
}

func workersFingerprint(list []*store.WorkerInfo, now time.Time) string {
	h := fnv.New64a()
	for _, wk := range list {
		fmt.Fprintf(h, "%s|%s|%d|%s|%s|%d|%s;", wk.ID, strings.Join(wk.Labels, ","), wk.Concurrency, workerStatus(wk, now),
			strings.Join(wk.Problems, "\x00"), wk.LastSeenAt.UnixMicro(), wk.Version)
	}
	return fmt.Sprintf("%x", h.Sum64())
}

func (w *Web) loadWorkers(ctx context.Context) (*workersData, error) {
	list, err := w.st.WorkerList(ctx)
	if err != nil {
		return nil, err
	}
	now := w.clock.Now()
	d := &workersData{Fingerprint: workersFingerprint(list, now)}
	for _, wk := range list {
		row := &workerRow{WorkerInfo: wk, Status: workerStatus(wk, now)}
		if row.Status == "alive" {
			d.Alive++
			d.Slots += wk.Concurrency
		}
		if len(wk.Problems) > 0 {
			d.WithProblems++
		}
		d.Workers = append(d.Workers, row)
	}
	return d, nil
}

func (w *Web) workersPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadWorkers(r.Context())
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "workers", w.newView(r, "Workers", "workers", d))
}

func (w *Web) workersLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadWorkers(r.Context())
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "workers-live", w.newView(r, "", "", d))
}

// workersEvents has no topic to wait on: workers announce themselves by
// writing a row, so the stream polls.
func (w *Web) workersEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	return w.changes(ctx, s, r, nil, func() (string, error) {
		list, err := w.st.WorkerList(ctx)
		if err != nil {
			return "", err
		}
		return workersFingerprint(list, w.clock.Now()), nil
	})
}
