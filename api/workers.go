package api

import (
	"net/http"

	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
)

func (a *API) listWorkers(w http.ResponseWriter, r *http.Request) error {
	list, err := a.st.WorkerList(r.Context())
	if err != nil {
		return err
	}
	// Workers record when they were seen in the store's clock.
	now := a.clock.Now()
	if c, ok := a.st.(store.Clocked); ok {
		now = c.Clock().Now()
	}
	out := make([]Worker, 0, len(list))
	for _, wk := range list {
		labels, problems := wk.Labels, wk.Problems
		if labels == nil {
			labels = []string{}
		}
		if problems == nil {
			problems = []string{}
		}
		out = append(out, Worker{
			ID: wk.ID, Hostname: wk.Hostname, PID: wk.PID, Labels: labels, Concurrency: wk.Concurrency, Version: wk.Version,
			Draining: wk.Draining, Problems: problems, StartedAt: utc(wk.StartedAt), LastSeenAt: utc(wk.LastSeenAt),
			Alive: now.Sub(wk.LastSeenAt) <= scheduler.WorkerTTL,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
