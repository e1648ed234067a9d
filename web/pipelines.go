package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
)

// recentRuns is how many runs a row of the pipelines page shows.
const recentRuns = 10

type pipelineRow struct {
	ID, Description string
	Tags            []string
	Schedule, Zone  string
	// Events are what else starts runs: assets, webhook, files.
	Events []string
	File   string
	Paused bool
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
	// OnPage is set, for a row of the broken banner, when the pipeline's
	// row is on this page.
	OnPage bool
}

type pipelinesData struct {
	Rows        []*pipelineRow
	Broken      []*pipelineRow
	Fingerprint string
	// Filter is what the list is filtered by, as the form shows it;
	// Query the same as a query string, for the live region and its
	// events.
	Filter pipelinesFilter
	Query  template.URL
	// Tags are every tag, for the tag picker.
	Tags []string
	// Total is how many pipelines pass the filter; Rows are those of
	// page Page of Pages. PrevURL and NextURL link to the pages around;
	// LiveQuery is Query with the page, for the live region.
	Total, Page, Pages int
	PrevURL, NextURL   template.URL
	LiveQuery          template.URL
}

// pipelinesFilter is the filter form's values.
type pipelinesFilter struct {
	Search, Tag, State, Paused string
}

// Any reports whether any filter is set.
func (f pipelinesFilter) Any() bool {
	return f.Search != "" || f.Tag != "" || f.State != "" || f.Paused != ""
}

// readPipelinesFilter reads the list's filters from the request, the
// same as GET /api/v1/pipelines.
func readPipelinesFilter(r *http.Request) (*store.PipelineSearchParams, pipelinesFilter, template.URL, error) {
	q := r.URL.Query()
	p, err := control.PipelineFilter(q)
	if err != nil {
		return nil, pipelinesFilter{}, "", err
	}
	f := pipelinesFilter{Search: p.Search, Tag: strings.Join(p.Tags, ","), Paused: q.Get("paused")}
	for i, s := range p.LastStates {
		if i > 0 {
			f.State += ","
		}
		f.State += string(s)
	}
	v := url.Values{}
	for k, val := range map[string]string{"search": f.Search, "tag": f.Tag, "state": f.State, "paused": f.Paused} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return p, f, template.URL(v.Encode()), nil
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

// pipelinesPerPage is how many pipelines a page of the list shows: a
// page of 1,000 rendered in well over the 100 ms a list may take.
const pipelinesPerPage = 50

// pipelinesState reads what the pipelines page is made of: the pipelines
// that pass the filter (all of them, for the count and the banner of
// broken files), the ones of page n (from 1) and their recent runs.
func (w *Web) pipelinesState(ctx context.Context, filter *store.PipelineSearchParams, n int) (all, page []*store.Pipeline, recent map[string][]*store.Run, err error) {
	all, err = w.st.PipelineSearch(ctx, filter)
	if err != nil {
		return nil, nil, nil, err
	}
	// A page past the last shows the last (the list shrank meanwhile).
	n = min(n, max(1, (len(all)+pipelinesPerPage-1)/pipelinesPerPage))
	from := (n - 1) * pipelinesPerPage
	page = all[from:min(from+pipelinesPerPage, len(all))]
	ids := make([]string, len(page))
	for i, sp := range page {
		ids[i] = sp.ID
	}
	recent, err = w.st.RunListRecentFor(ctx, ids, recentRuns)
	if err != nil {
		return nil, nil, nil, err
	}
	return all, page, recent, nil
}

// pageParam reads the page number of a list, 1 when absent or bad.
func pageParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (w *Web) loadPipelines(r *http.Request) (*pipelinesData, error) {
	ctx := r.Context()
	filter, form, query, err := readPipelinesFilter(r)
	if err != nil {
		return nil, err
	}
	n := pageParam(r)
	all, list, recent, err := w.pipelinesState(ctx, filter, n)
	if err != nil {
		return nil, err
	}
	n = min(n, max(1, (len(all)+pipelinesPerPage-1)/pipelinesPerPage))
	d := &pipelinesData{Fingerprint: pipelinesFingerprint(all, recent), Filter: form, Query: query, Total: len(all), Page: n}
	d.Pages = max(1, (len(all)+pipelinesPerPage-1)/pipelinesPerPage)
	if n > 1 {
		d.PrevURL = pageURL(query, n-1)
	}
	if n < d.Pages {
		d.NextURL = pageURL(query, n+1)
	}
	if n > 1 || d.NextURL != "" {
		d.LiveQuery = template.URL(strings.TrimPrefix(string(pageURL(query, n)), "/?"))
	} else {
		d.LiveQuery = query
	}
	if d.Tags, err = w.st.PipelineTagList(ctx); err != nil {
		return nil, err
	}
	onPage := map[string]bool{}
	for _, sp := range list {
		onPage[sp.ID] = true
	}
	for _, sp := range all {
		if sp.ParseError != "" {
			d.Broken = append(d.Broken, &pipelineRow{ID: sp.ID, File: sp.File, ParseError: sp.ParseError, OnPage: onPage[sp.ID]})
		}
	}
	for _, sp := range list {
		runs := slices.Clone(recent[sp.ID])
		slices.Reverse(runs)
		row := &pipelineRow{
			ID: sp.ID, File: sp.File, Paused: sp.Paused, Missing: sp.Missing, Schedule: sp.Schedule, Tags: sp.Tags,
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
			row.Description, row.Zone, row.Events = p.Description, p.Timezone, p.Events()
			if next, ok := w.ctl.NextRun(sp, p); ok {
				row.Next = &next
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// pageURL is the list's URL with the filters of query, at page n.
func pageURL(query template.URL, n int) template.URL {
	v, _ := url.ParseQuery(string(query))
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/"
	}
	return template.URL("/?" + v.Encode())
}

func (w *Web) pipelinesPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadPipelines(r)
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "pipelines", w.newView(r, "Pipelines", "pipelines", d))
}

func (w *Web) pipelinesLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadPipelines(r)
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
