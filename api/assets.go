package api

import (
	"encoding/json"
	"net/http"

	"github.com/sluice-dev/sluice/store"
)

func (a *API) emitAsset(w http.ResponseWriter, r *http.Request) error {
	var req AssetEventRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	res, err := a.ctl.AssetEmit(r.Context(), r.PathValue("name"), req.Extra, by(r))
	if err != nil {
		return err
	}
	out := AssetEventResult{Event: assetEventOut(res.Event), Runs: []Run{}}
	for _, run := range res.Runs {
		out.Runs = append(out.Runs, a.runOut(run))
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listAssetEvents(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r.URL.Query().Get("limit"), "limit", 50)
	if err != nil {
		return err
	}
	evs, err := a.st.AssetEventList(r.Context(), r.PathValue("name"), int(min(limit, 500)))
	if err != nil {
		return err
	}
	out := make([]AssetEvent, len(evs))
	for i, e := range evs {
		out[i] = assetEventOut(e)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func assetEventOut(e *store.AssetEvent) AssetEvent {
	extra := map[string]string{}
	_ = json.Unmarshal(e.Extra, &extra)
	return AssetEvent{ID: e.ID, Asset: e.Asset, Pipeline: e.PipelineID, RunID: e.RunID, Task: e.TaskID, Extra: extra, CreatedAt: utc(e.CreatedAt)}
}
