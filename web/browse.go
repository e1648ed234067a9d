package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
)

// Browse: runs and task instances of every pipeline, filtered by state,
// pipeline, tag and a range of logical dates, newest first, a page at a
// time. Filters are the query of a GET form, so a view is a link ("what
// failed last night": /browse/tasks?state=failed&since=12h).

// browsePerPage is how many rows a page of Browse shows.
const browsePerPage = 50

// browseFilter is the filter form's values, as given.
type browseFilter struct {
	State, Pipeline, Tag, Since, Until string
}

// Any reports whether any filter is set.
func (f browseFilter) Any() bool {
	return f.State != "" || f.Pipeline != "" || f.Tag != "" || f.Since != "" || f.Until != ""
}

// Query is the filter as a query string, for links that keep it.
func (f browseFilter) Query() template.URL { return template.URL(f.query().Encode()) }

// query is the filter as query values.
func (f browseFilter) query() url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"state": f.State, "pipeline": f.Pipeline, "tag": f.Tag, "since": f.Since, "until": f.Until} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

type browseData struct {
	// Tab is "runs" or "tasks".
	Tab    string
	Filter browseFilter
	// States are the states the state picker offers.
	States    []string
	Tags      []string
	Pipelines []string
	Runs      []*store.Run
	Tasks     []*store.BrowsedInstance
	// Zones are the timezones of the pipelines, for readers who chose
	// each pipeline's zone.
	Zones map[string]string
	// NextURL is the page of older rows; FirstURL the newest page, when
	// this is not it.
	NextURL, FirstURL template.URL
}

// Empty reports whether the page has no rows.
func (d *browseData) Empty() bool { return len(d.Runs) == 0 && len(d.Tasks) == 0 }

// instanceStateNames are the task instance states, for the picker.
var instanceStateNames = []string{"failed", "upstream_failed", "up_for_retry", "running", "queued", "up_for_reschedule", "success", "skipped", "cancelled", "pending"}

func (w *Web) browseRunsPage(rw http.ResponseWriter, r *http.Request) error {
	return w.browsePage(rw, r, "runs")
}

func (w *Web) browseTasksPage(rw http.ResponseWriter, r *http.Request) error {
	return w.browsePage(rw, r, "tasks")
}

func (w *Web) browsePage(rw http.ResponseWriter, r *http.Request, tab string) error {
	ctx := r.Context()
	q := r.URL.Query()
	d := &browseData{Tab: tab, Filter: browseFilter{State: q.Get("state"), Pipeline: q.Get("pipeline"), Tag: q.Get("tag"), Since: q.Get("since"), Until: q.Get("until")}}
	now := w.clock.Now()
	// A date is the reader's, as the times on the page are.
	zone := readerZone(r)
	since, err := control.ParseTimeBound("since", d.Filter.Since, now, zone)
	if err != nil {
		return err
	}
	until, err := control.ParseTimeBound("until", d.Filter.Until, now, zone)
	if err != nil {
		return err
	}
	var before int64
	if s := q.Get("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before <= 0 {
			return sluice.Errorf(sluice.EBADREQUEST, "before=%q: want a positive number", s)
		}
	}
	tags := control.Tags(q["tag"])
	var last int64 // the id of the page's last row, for the next page
	switch tab {
	case "tasks":
		d.States = instanceStateNames
		states, err := control.ParseInstanceStates(q["state"])
		if err != nil {
			return err
		}
		d.Tasks, err = w.st.InstanceBrowse(ctx, &store.InstanceBrowseParams{PipelineID: d.Filter.Pipeline, States: states, Tags: tags,
			Since: since, Until: until, BeforeID: before, Limit: browsePerPage + 1})
		if err != nil {
			return err
		}
		if len(d.Tasks) > browsePerPage {
			d.Tasks = d.Tasks[:browsePerPage]
			last = d.Tasks[browsePerPage-1].ID
		}
	default:
		for _, s := range sluice.RunStates {
			d.States = append(d.States, string(s))
		}
		states, err := control.ParseRunStates(q["state"])
		if err != nil {
			return err
		}
		d.Runs, err = w.st.RunList(ctx, &store.RunListParams{PipelineID: d.Filter.Pipeline, States: states, Tags: tags,
			Since: since, Until: until, BeforeID: before, Limit: browsePerPage + 1})
		if err != nil {
			return err
		}
		if len(d.Runs) > browsePerPage {
			d.Runs = d.Runs[:browsePerPage]
			last = d.Runs[browsePerPage-1].ID
		}
	}
	path := "/browse"
	if tab == "tasks" {
		path = "/browse/tasks"
	}
	if last > 0 {
		v := d.Filter.query()
		v.Set("before", strconv.FormatInt(last, 10))
		d.NextURL = template.URL(path + "?" + v.Encode())
	}
	if before > 0 {
		d.FirstURL = template.URL(path)
		if v := d.Filter.query(); len(v) > 0 {
			d.FirstURL += template.URL("?" + v.Encode())
		}
	}
	if d.Tags, err = w.st.PipelineTagList(ctx); err != nil {
		return err
	}
	pipes, err := w.st.PipelineList(ctx)
	if err != nil {
		return err
	}
	d.Zones = map[string]string{}
	for _, sp := range pipes {
		d.Pipelines = append(d.Pipelines, sp.ID)
		if p, err := w.versionOf(ctx, sp.VersionID); err == nil && p != nil {
			d.Zones[sp.ID] = p.Timezone
		}
	}
	title := "Browse runs"
	if tab == "tasks" {
		title = "Browse task instances"
	}
	return w.render(rw, http.StatusOK, "browse", w.newView(r, title, "browse", d))
}
