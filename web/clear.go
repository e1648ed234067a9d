package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// The Clear and Mark dialogs, as Airflow's: a page that previews the
// task instances the chosen options select (a dry run, in a GET), and a
// form that applies them (a POST). The options live in the query, so a
// preview can be linked and reloaded; the POST repeats them as fields.

// selectionData is the page of a clear or a mark.
type selectionData struct {
	Run *store.Run
	// Mark is "" for a clear, else the state to mark: success or failed.
	Mark       string
	Tasks      []string
	Downstream bool
	Upstream   bool
	OnlyFailed bool
	Past       bool
	Future     bool
	Preview    []*store.Selected
	Runs       int // the runs Preview spans
	Problem    string
}

// Verb is what the page's button does.
func (d *selectionData) Verb() string {
	if d.Mark != "" {
		return "Mark " + d.Mark
	}
	return "Clear"
}

// Query is the page's options as a query, for the form's action.
func (d *selectionData) Query() string {
	q := url.Values{"task": d.Tasks, "set": {"1"}}
	for name, on := range map[string]bool{"downstream": d.Downstream, "upstream": d.Upstream, "only_failed": d.OnlyFailed, "past": d.Past, "future": d.Future} {
		if on {
			q.Set(name, "1")
		}
	}
	if d.Mark != "" {
		q.Set("state", d.Mark)
	}
	return q.Encode()
}

// readSelection reads the options of a clear or a mark from a query or a
// form. Until the options form was sent (set=1), a clear selects the
// downstream tasks, as Airflow's dialog does.
func readSelection(vals url.Values, mark bool) *selectionData {
	on := func(name string) bool { v := vals.Get(name); return v == "1" || v == "on" || v == "true" }
	d := &selectionData{Tasks: vals["task"], Upstream: on("upstream"), OnlyFailed: on("only_failed"), Past: on("past"), Future: on("future")}
	d.Downstream = on("downstream") || !mark && vals.Get("set") == ""
	if mark {
		d.Mark = vals.Get("state")
		d.OnlyFailed = false
	}
	return d
}

func (d *selectionData) selection(runID int64, dry bool) store.Selection {
	return store.Selection{RunID: runID, TaskIDs: d.Tasks, Downstream: d.Downstream, Upstream: d.Upstream, Past: d.Past, Future: d.Future, DryRun: dry}
}

func (w *Web) clearPage(rw http.ResponseWriter, r *http.Request) error {
	return w.selectionPage(rw, r, false)
}
func (w *Web) markPage(rw http.ResponseWriter, r *http.Request) error {
	return w.selectionPage(rw, r, true)
}
func (w *Web) clearSetPost(rw http.ResponseWriter, r *http.Request) error {
	return w.selectionPost(rw, r, false)
}
func (w *Web) markSetPost(rw http.ResponseWriter, r *http.Request) error {
	return w.selectionPost(rw, r, true)
}

func (w *Web) selectionPage(rw http.ResponseWriter, r *http.Request, mark bool) error {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	run, err := w.st.RunGet(ctx, id)
	if err != nil {
		return err
	}
	d := readSelection(r.URL.Query(), mark)
	d.Run = run
	if err := w.preview(r, d); err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "clear", w.newView(r, fmt.Sprintf("%s in run %d", d.Verb(), id), "pipelines", d))
}

// preview fills d.Preview with a dry run of d; an invalid choice (no
// task, an unknown one, a state that cannot be marked) is shown on the
// page, not as an error page.
func (w *Web) preview(r *http.Request, d *selectionData) error {
	var (
		sel []*store.Selected
		err error
	)
	switch {
	case d.Mark == "":
		sel, err = w.st.InstanceClearSet(r.Context(), &store.ClearParams{Selection: d.selection(d.Run.ID, true), OnlyFailed: d.OnlyFailed})
	case d.Mark == string(sluice.InstanceSuccess) || d.Mark == string(sluice.InstanceFailed):
		sel, err = w.st.InstanceMarkSet(r.Context(), &store.MarkParams{Selection: d.selection(d.Run.ID, true), State: sluice.InstanceState(d.Mark)})
	default:
		return sluice.Errorf(sluice.EBADREQUEST, "a task can be marked success or failed, not %q", d.Mark)
	}
	switch code := sluice.ErrorCode(err); {
	case err == nil:
	case code == sluice.EINVALID || code == sluice.ENOTFOUND:
		d.Problem = sluice.ErrorMessage(err)
		return nil
	default:
		return err
	}
	d.Preview = sel
	runs := map[int64]bool{}
	for _, s := range sel {
		runs[s.RunID] = true
	}
	d.Runs = len(runs)
	return nil
}

func (w *Web) selectionPost(rw http.ResponseWriter, r *http.Request, mark bool) error {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return sluice.Errorf(sluice.EBADREQUEST, "cannot read the form: %v", err)
	}
	d := readSelection(r.PostForm, mark)
	by := auth.FromContext(ctx).Name
	var sel []*store.Selected
	if mark {
		state := sluice.InstanceState(d.Mark)
		if state != sluice.InstanceSuccess && state != sluice.InstanceFailed {
			return sluice.Errorf(sluice.EBADREQUEST, "a task can be marked success or failed, not %q", d.Mark)
		}
		sel, err = w.ctl.MarkSet(ctx, &store.MarkParams{Selection: d.selection(id, false), State: state}, by)
	} else {
		sel, err = w.ctl.ClearSet(ctx, &store.ClearParams{Selection: d.selection(id, false), OnlyFailed: d.OnlyFailed}, by)
	}
	if err != nil {
		return err
	}
	runs := map[int64]bool{}
	for _, s := range sel {
		runs[s.RunID] = true
	}
	done := "cleared: they run again"
	if mark {
		done = "marked " + d.Mark
	}
	return w.done(rw, r, fmt.Sprintf("/runs/%d", id), fmt.Sprintf("%d task %s in %d %s %s (%s).",
		len(sel), pluralWord(len(sel), "instance", "instances"), len(runs), pluralWord(len(runs), "run", "runs"), done, strings.Join(d.Tasks, ", ")))
}
