package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
)

func (a *API) emitAsset(w http.ResponseWriter, r *http.Request) error {
	var req AssetEventRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" {
		key = req.Key
	}
	res, err := a.ctl.AssetEmit(r.Context(), r.PathValue("name"), req.Extra, key, by(r))
	if err != nil {
		return err
	}
	out := AssetEventResult{Event: assetEventOut(res.Event), Runs: []Run{}, Repeat: res.Repeat}
	for _, run := range res.Runs {
		out.Runs = append(out.Runs, a.runOut(run))
	}
	status := http.StatusCreated
	if res.Repeat {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
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

func (a *API) listAssets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := queryInt(q.Get("limit"), "limit", 100)
	if err != nil {
		return err
	}
	limit = min(limit, 500)
	list, err := a.st.AssetList(r.Context(), &store.AssetListParams{After: q.Get("after"), Limit: int(limit)})
	if err != nil {
		return err
	}
	out := AssetList{Assets: make([]Asset, len(list))}
	for i, as := range list {
		out.Assets[i] = assetOut(as)
	}
	if int64(len(list)) == limit {
		out.NextAfter = list[len(list)-1].Name
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getAsset(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if err := checkAssetName(name); err != nil {
		return err
	}
	as, err := a.st.AssetGet(ctx, name)
	if err != nil {
		return err
	}
	out := AssetDetail{Asset: assetOut(as), ConsumerStatus: []AssetConsumer{}, RecentEvents: []AssetEvent{}}
	for _, p := range as.Consumers {
		states, err := a.st.AssetConsumerStatus(ctx, p)
		if err != nil {
			return err
		}
		for _, s := range states {
			if s.Asset == name {
				out.ConsumerStatus = append(out.ConsumerStatus, AssetConsumer{Pipeline: p, LastConsumedID: s.LastConsumedID, Fresh: s.Fresh()})
			}
		}
	}
	evs, err := a.st.AssetEventList(ctx, name, 20)
	if err != nil {
		return err
	}
	for _, e := range evs {
		out.RecentEvents = append(out.RecentEvents, assetEventOut(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkAssetName refuses a name no asset can have, so that a typo reads
// as such rather than as an unknown asset.
func checkAssetName(name string) error {
	if !pipeline.ValidAssetName(name) {
		return sluice.Errorf(sluice.EINVALID, "asset %q is not a valid name: up to 128 letters, digits and _ . : / @ + = -, such as warehouse.orders (write a / in a URL path as %%2F)", name)
	}
	return nil
}

func assetOut(as *store.AssetInfo) Asset {
	out := Asset{Name: as.Name, Events: as.Events, Producers: []AssetProducer{}, Consumers: []string{}}
	if as.LastEvent != nil {
		e := assetEventOut(as.LastEvent)
		out.LastEvent = &e
	}
	for _, p := range as.Producers {
		out.Producers = append(out.Producers, AssetProducer{Pipeline: p.PipelineID, Task: p.TaskID})
	}
	out.Consumers = append(out.Consumers, as.Consumers...)
	return out
}

// runTriggers lists the trigger events of a run, with the asset events an
// asset run consumed.
func (a *API) runTriggers(ctx context.Context, runID int64) ([]RunTrigger, error) {
	trs, err := a.st.RunTriggerList(ctx, runID)
	if err != nil {
		return nil, err
	}
	out := make([]RunTrigger, 0, len(trs))
	for _, tr := range trs {
		rt := RunTrigger{Source: tr.Source, Key: tr.Key, ReceivedAt: utc(tr.ReceivedAt)}
		if tr.Source == store.AssetSource {
			consumed := store.ParseAssetKey(tr.Key)
			ids := make([]int64, len(consumed))
			for i, c := range consumed {
				ids[i] = c.EventID
			}
			evs, err := a.st.AssetEventsByID(ctx, ids)
			if err != nil {
				return nil, err
			}
			for _, c := range consumed {
				ca := ConsumedAsset{Asset: c.Asset, EventID: c.EventID}
				for _, e := range evs {
					if e.ID == c.EventID {
						ev := assetEventOut(e)
						ca.Event = &ev
					}
				}
				rt.Assets = append(rt.Assets, ca)
			}
		}
		if path, size, mtime, ok := scheduler.ParseFileEventKey(tr.Key); ok && pipeline.IsFilesSource(tr.Source) {
			rt.File = &ArrivedFile{Path: path, Size: size, Mtime: time.Unix(0, mtime).UTC()}
		}
		out = append(out, rt)
	}
	return out, nil
}
