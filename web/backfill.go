package web

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
)

// previewDates is how many dates a backfill's preview lists.
const previewDates = 60

type backfillData struct {
	*pipelineHead
	Form      *backfillForm
	Backfills []*backfillRow
}

// backfillForm is the data of the backfill form: what was typed, the
// problems, and the preview or the backfill just started.
type backfillForm struct {
	From, To, Rerun string
	Fields          []*paramField
	Problem         string
	// FromProblem and ToProblem are about the bounds.
	FromProblem, ToProblem string
	// Zone is the pipeline's timezone, which dates are read in.
	Zone    string
	Preview *backfillPreview
	Started *store.Backfill
}

// backfillPreview lists the logical dates a backfill would cover.
type backfillPreview struct {
	// Dates are the first logical dates, as the pipeline's timezone
	// reads them.
	Dates []string
	Total int
	// More counts the dates not listed.
	More int
	// From and To are the bounds as read, in the pipeline's timezone.
	From, To string
}

// previewTime formats a time of a preview, in the pipeline's timezone.
func previewTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2006-01-02 15:04")
}

// backfillRow is a backfill with its progress bar.
type backfillRow struct {
	*store.Backfill
	Segments []progressSegment
	// Done counts the finished runs; Pct is their share.
	Done, Pct int
}

// progressSegment is one state's part of a progress bar.
type progressSegment struct {
	State string
	N     int
	// X and Pct are the segment's start and width, in percent of the bar.
	X, Pct float64
}

// backfillStates are the run states in the order of the progress bar:
// finished ones first, from the left.
var backfillStates = []sluice.RunState{sluice.RunSuccess, sluice.RunFailed, sluice.RunCancelled, sluice.RunRunning, sluice.RunQueued}

func newBackfillRow(b *store.Backfill) *backfillRow {
	row := &backfillRow{Backfill: b, Done: b.Finished()}
	if b.Total > 0 {
		row.Pct = row.Done * 100 / b.Total
		x := 0.0
		for _, s := range backfillStates {
			if n := b.Runs[s]; n > 0 {
				pct := float64(n) * 100 / float64(b.Total)
				row.Segments = append(row.Segments, progressSegment{State: string(s), N: n, X: x, Pct: pct})
				x += pct
			}
		}
	}
	return row
}

// Failed counts the backfill's failed runs.
func (b *backfillRow) Failed() int { return b.Runs[sluice.RunFailed] }

// backfillsFingerprint sums up what the backfills page shows: the
// pipeline (for its head) and its backfills' progress.
func backfillsFingerprint(sp *store.Pipeline, list []*store.Backfill) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%t|%t|%s|", sp.VersionID, sp.Paused, sp.Missing, sp.ParseError)
	for _, b := range list {
		fmt.Fprintf(h, "%d|%s|%d|", b.ID, b.State, b.Total)
		for _, s := range backfillStates {
			fmt.Fprintf(h, "%d,", b.Runs[s])
		}
		fmt.Fprint(h, ";")
	}
	return fmt.Sprintf("%x", h.Sum64())
}

// newBackfillForm returns the form as it first shows: the last seven
// days up to yesterday, in the pipeline's timezone, no rerun, and the
// params' defaults.
func (w *Web) newBackfillForm(head *pipelineHead) *backfillForm {
	f := &backfillForm{Rerun: store.RerunNone, Zone: "UTC"}
	if head.P != nil {
		loc := head.P.Location()
		f.Zone = loc.String()
		today := w.clock.Now().In(loc)
		f.From = today.AddDate(0, 0, -7).Format("2006-01-02")
		f.To = today.AddDate(0, 0, -1).Format("2006-01-02")
		f.Fields = paramFields(head.P, nil)
	}
	return f
}

func (w *Web) loadBackfills(ctx context.Context, id string) (*backfillData, error) {
	head, err := w.loadHead(ctx, id, "backfills")
	if err != nil {
		return nil, err
	}
	list, err := w.st.BackfillList(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &backfillData{pipelineHead: head}
	head.Fingerprint = backfillsFingerprint(head.SP, list)
	for _, b := range list {
		d.Backfills = append(d.Backfills, newBackfillRow(b))
	}
	return d, nil
}

func (w *Web) backfillsPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadBackfills(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Form = w.newBackfillForm(d.pipelineHead)
	return w.render(rw, http.StatusOK, "backfills", w.newView(r, d.SP.ID+" · backfills", "pipelines", d))
}

func (w *Web) backfillsLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadBackfills(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "backfills-live", w.newView(r, "", "", d))
}

func (w *Web) backfillEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return w.changes(ctx, s, r, []store.Topic{store.TopicRuns, store.TopicPipelines}, func() (string, error) {
		sp, err := w.st.PipelineGet(ctx, id)
		if err != nil {
			return "", err
		}
		list, err := w.st.BackfillList(ctx, id)
		if err != nil {
			return "", err
		}
		return backfillsFingerprint(sp, list), nil
	})
}

// backfillPost previews a backfill (action=preview: the dates it would
// cover) or starts it (action=start).
func (w *Web) backfillPost(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return sluice.Errorf(sluice.EBADREQUEST, "cannot read the form: %v", err)
	}
	d, err := w.loadBackfills(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	id := d.SP.ID
	f := &backfillForm{From: r.PostFormValue("from"), To: r.PostFormValue("to"), Rerun: r.PostFormValue("rerun"), Zone: "UTC"}
	d.Form = f
	if f.Rerun == "" {
		f.Rerun = store.RerunNone
	}
	st := http.StatusOK
	respond := func() error {
		v := w.newView(r, id+" · backfills", "pipelines", d)
		if isHTMX(r) {
			return w.fragment(rw, st, "backfill-form", v)
		}
		return w.render(rw, st, "backfills", v)
	}
	// problem shows a problem the person can fix next to the form.
	problem := func(err error) error {
		var se *sluice.Error
		if !errors.As(err, &se) || fixable(err) == nil {
			return err
		}
		st = problemStatus(se)
		f.Problem = se.Message
		fieldProblems(f.Fields, se)
		if m, ok := se.Details.(map[string]string); ok {
			f.FromProblem, f.ToProblem = m["from"], m["to"]
		}
		return respond()
	}
	if d.P == nil {
		return problem(sluice.Errorf(sluice.ECONFLICT, "Pipeline %s has no valid version to run: fix its file first.", id))
	}
	loc := d.P.Location()
	f.Zone = loc.String()
	var params map[string]any
	f.Fields, params = formParams(d.P, r.PostForm)
	if f.Rerun != store.RerunNone && f.Rerun != store.RerunFailed && f.Rerun != store.RerunAll {
		return problem(sluice.Errorf(sluice.EINVALID, "Choose what happens to a date that already has a run: none, failed or all."))
	}
	from, to, err := control.BackfillBounds(loc, f.From, f.To)
	if err != nil {
		return problem(err)
	}
	if _, err := d.P.BindParams(params); err != nil {
		return problem(err)
	}
	if r.PostFormValue("action") != "start" {
		dates, err := w.ctl.BackfillDates(ctx, id, from, to)
		if err != nil {
			return problem(err)
		}
		pv := &backfillPreview{Total: len(dates), From: previewTime(from, loc), To: previewTime(to, loc)}
		for i, dt := range dates {
			if i == previewDates {
				pv.More = len(dates) - previewDates
				break
			}
			pv.Dates = append(pv.Dates, previewTime(dt, loc))
		}
		f.Preview = pv
		return respond()
	}
	b, err := w.ctl.BackfillWith(ctx, &control.BackfillWithParams{
		PipelineID: id, From: from, To: to, Rerun: f.Rerun, Params: params, By: auth.FromContext(ctx).Name,
	})
	if err != nil {
		return problem(err)
	}
	msg := backfillStartedText(b)
	if !isHTMX(r) {
		http.Redirect(rw, r, fmt.Sprintf("/pipelines/%s/backfills?notice=%s", url.PathEscape(id), url.QueryEscape(msg)), http.StatusSeeOther)
		return nil
	}
	// A fresh form, saying what started; the list refreshes itself.
	d.Form = w.newBackfillForm(d.pipelineHead)
	d.Form.Started = b
	rw.Header().Set("HX-Trigger", "sluice:refresh")
	return respond()
}

// backfillStartedText says what a new backfill did.
func backfillStartedText(b *store.Backfill) string {
	msg := fmt.Sprintf("Backfill %d started: %d %s", b.ID, b.Total, pluralWord(b.Total, "run", "runs"))
	if b.Skipped > 0 {
		msg += fmt.Sprintf("; %d %s already had a run and %s left alone", b.Skipped, pluralWord(b.Skipped, "date", "dates"), pluralWord(b.Skipped, "was", "were"))
	}
	return msg + "."
}

// StartedText says what the backfill just started did.
func (f *backfillForm) StartedText() string {
	if f.Started == nil {
		return ""
	}
	return backfillStartedText(f.Started)
}

func (w *Web) backfillCancel(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	b, err := w.st.BackfillGet(ctx, id)
	if err != nil {
		return err
	}
	if b.State != "running" {
		return sluice.Errorf(sluice.ECONFLICT, "backfill %d is %s: there is nothing to cancel", id, b.State)
	}
	if err := w.st.BackfillCancel(ctx, id); err != nil {
		return err
	}
	w.log.Info("backfill cancelled", "pipeline", b.PipelineID, "backfill", id, "by", auth.FromContext(ctx).Name)
	back := fmt.Sprintf("/pipelines/%s/backfills", url.PathEscape(b.PipelineID))
	return w.done(rw, r, back, fmt.Sprintf("Backfill %d cancelled: its queued and running runs are stopped.", id))
}
