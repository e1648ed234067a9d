package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
)

func backfillOut(b *store.Backfill) Backfill {
	runs := make(map[string]int, len(sluice.RunStates))
	for _, s := range sluice.RunStates {
		runs[string(s)] = b.Runs[s]
	}
	return Backfill{
		ID: b.ID, Pipeline: b.PipelineID, From: utc(b.From), To: utc(b.To), Rerun: b.Rerun, State: b.State,
		Total: b.Total, Runs: runs, CreatedBy: b.CreatedBy, CreatedAt: utc(b.CreatedAt),
	}
}

func (a *API) createBackfill(w http.ResponseWriter, r *http.Request) error {
	var req BackfillRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	switch req.Rerun {
	case "":
		req.Rerun = store.RerunNone
	case store.RerunNone, store.RerunFailed, store.RerunAll:
	default:
		return sluice.Errorf(sluice.EINVALID, "rerun %q: want none, failed or all", req.Rerun)
	}
	ctx := r.Context()
	id := r.PathValue("id")
	sp, p, err := a.ctl.Pipeline(ctx, id)
	if err != nil {
		return err
	}
	if p == nil {
		return sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version to run: fix its file first (%s)", id, sp.ParseError)
	}
	from, to, err := control.BackfillBounds(p.Location(), req.From, req.To)
	if err != nil {
		return err
	}
	if req.DryRun {
		dates, err := a.ctl.BackfillDates(ctx, id, from, to)
		if err != nil {
			return err
		}
		out := BackfillDates{Pipeline: id, Timezone: p.Timezone, Dates: make([]time.Time, 0, len(dates))}
		for _, d := range dates {
			out.Dates = append(out.Dates, utc(d))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	created, err := a.ctl.BackfillWith(ctx, &control.BackfillWithParams{PipelineID: id, From: from, To: to, Rerun: req.Rerun, Params: req.Params, By: auth.FromContext(ctx).Name})
	if err != nil {
		return err
	}
	b, err := a.st.BackfillGet(ctx, created.ID)
	if err != nil {
		return err
	}
	out := backfillOut(b)
	skipped := created.Skipped
	out.Skipped = &skipped
	w.Header().Set("Location", "/api/v1/backfills/"+itoa(b.ID))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listBackfills(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sp, err := a.st.PipelineGet(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	list, err := a.st.BackfillList(ctx, sp.ID)
	if err != nil {
		return err
	}
	out := make([]Backfill, 0, len(list))
	for _, b := range list {
		out = append(out, backfillOut(b))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getBackfill(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "backfill")
	if err != nil {
		return err
	}
	b, err := a.st.BackfillGet(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, backfillOut(b))
	return nil
}

func (a *API) cancelBackfill(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathInt(r, "backfill")
	if err != nil {
		return err
	}
	b, err := a.st.BackfillGet(ctx, id)
	if err != nil {
		return err
	}
	if b.State != "running" {
		return sluice.Errorf(sluice.ECONFLICT, "backfill %d is %s already: there is nothing to cancel", id, b.State)
	}
	if err := a.st.BackfillCancel(ctx, id); err != nil {
		return err
	}
	a.logger(r).Info("backfill cancelled", "backfill", id, "pipeline", b.PipelineID, "by", by(r))
	if b, err = a.st.BackfillGet(ctx, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, backfillOut(b))
	return nil
}
