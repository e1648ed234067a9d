package api

import (
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

func poolOut(p *store.Pool) Pool {
	return Pool{Name: p.Name, Slots: p.Slots, Description: p.Description, Used: p.Used, Queued: p.Queued}
}

func (a *API) listPools(w http.ResponseWriter, r *http.Request) error {
	pools, err := a.st.PoolList(r.Context())
	if err != nil {
		return err
	}
	out := make([]Pool, 0, len(pools))
	for _, p := range pools {
		out = append(out, poolOut(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) setPool(w http.ResponseWriter, r *http.Request) error {
	var req PoolSet
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Slots == nil {
		return sluice.Errorf(sluice.EINVALID, "slots is required: how many tasks of the pool may run at once (0 or more)")
	}
	p, err := a.ctl.PoolSet(r.Context(), r.PathValue("name"), *req.Slots, req.Description, by(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, poolOut(p))
	return nil
}

func (a *API) deletePool(w http.ResponseWriter, r *http.Request) error {
	if err := a.ctl.PoolDelete(r.Context(), r.PathValue("name"), by(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
