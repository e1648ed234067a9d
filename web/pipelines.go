package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// recentRuns is how many runs a row of the pipelines page shows.
const recentRuns = 10

type pipelineRow struct {
	ID, Description string
	Schedule, Zone  string
	File            string
	Paused          bool
	// Missing is set when the file left the pipelines folder.
	Missing    bool
	HasVersion bool
	// Hash is the live version's; LoadedAt when it was loaded.
	Hash         string
	LoadedAt     time.Time
	Next         *time.Time
	Runs         []*store.Run // oldest first
	ParseError   string
	ParseErrorAt *time.Time
	Active       int
	LastState    sluice.RunState
}

type pipelinesData struct {
	Rows        []*pipelineRow
	Broken      []*pipelineRow
	Fingerprint string
}

// pipelinesFingerprint sums up what the pipelines page shows that can
// change: each pipeline's version, pause and parse error, and its recent
// runs' states.
func pipelinesFingerprint(list []*store.Pipeline, recent map[string][]*store.Run) string {
	h := fnv.New64a()
	for _, sp := range list {
		fmt.Fprintf(h, "%s|%d|%t|%t|%s|", sp.ID, sp.VersionID, sp.Paused, sp.Missing, sp.ParseError)
		for _, run := range recent[sp.ID] {
			fmt.Fprintf(h, "%d:%s,", run.ID, run.State)
		}
	}
	return fmt.Sprintf("%x", h.Sum64())
}

// pipelinesState reads what the pipelines page is made of.
func (w *Web) pipelinesState(ctx context.Context) ([]*store.Pipeline, map[string][]*store.Run, error) {
	list, err := w.st.PipelineList(ctx)
	if err != nil {
		return nil, nil, err
	}
	recent, err := w.st.RunListRecent(ctx, recentRuns)
	if err != nil {
		return nil, nil, err
	}
	return list, recent, nil
}

func (w *Web) loadPipelines(ctx context.Context) (*pipelinesData, error) {
	list, recent, err := w.pipelinesState(ctx)
	if err != nil {
		return nil, err
	}
	d := &pipelinesData{Fingerprint: pipelinesFingerprint(list, recent)}
	for _, sp := range list {
		runs := slices.Clone(recent[sp.ID])
		slices.Reverse(runs)
		row := &pipelineRow{
			ID: sp.ID, File: sp.File, Paused: sp.Paused, Missing: sp.Missing, Schedule: sp.Schedule,
			HasVersion: sp.VersionID != 0, Hash: sp.Hash, LoadedAt: sp.LoadedAt, Runs: runs, ParseError: sp.ParseError, ParseErrorAt: sp.ParseErrorAt,
		}
		for _, run := range runs {
			if !run.State.Finished() {
				row.Active++
			}
		}
		if len(runs) > 0 {
			row.LastState = runs[len(runs)-1].State
		}
		p, err := w.versionOf(ctx, sp.VersionID)
		if err != nil {
			return nil, err
		}
		if p != nil {
			row.Description, row.Zone = p.Description, p.Timezone
			if next, ok := w.ctl.NextRun(sp, p); ok {
				row.Next = &next
			}
		}
		d.Rows = append(d.Rows, row)
		if row.ParseError != "" {
			d.Broken = append(d.Broken, row)
		}
	}
	return d, nil
}

func (w *Web) pipelinesPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadPipelines(r.Context())
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "pipelines", w.newView(r, "Pipelines", "pipelines", d))
}

func (w *Web) pipelinesLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadPipelines(r.Context())
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "pipelines-live", w.newView(r, "", "", d))
}

func (w *Web) pausePost(rw http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	paused := r.PostFormValue("paused") == "true"
	if err := w.ctl.SetPaused(r.Context(), id, paused, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	msg := fmt.Sprintf("Pipeline %s is paused: no scheduled runs start until it is unpaused.", id)
	if !paused {
		msg = fmt.Sprintf("Pipeline %s is unpaused: its schedule runs again.", id)
	}
	return w.done(rw, r, backTo(r, "/"), msg)
}
