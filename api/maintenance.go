package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/pipeline"
)

func (a *API) cleanup(w http.ResponseWriter, r *http.Request) error {
	var req CleanupRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	p := control.CleanupParams{DryRun: req.DryRun, PipelineID: req.Pipeline}
	if req.Retention != "" {
		d, err := pipeline.ParseDuration(req.Retention)
		if err != nil {
			return sluice.Errorf(sluice.EINVALID, "retention %q: %v (e.g. 30d, 12h, or 0 to keep runs)", req.Retention, err)
		}
		v := time.Duration(d)
		p.Retention = &v
	}
	res, err := a.ctl.Cleanup(r.Context(), p, by(r))
	if err != nil {
		return err
	}
	out := Cleanup{DryRun: req.DryRun, DefaultRetentionSeconds: res.DefaultRetention.Seconds(),
		Pipelines: []CleanupPipeline{}, Rows: res.Rows, LogBytes: res.LogBytes, More: res.More}
	if out.Rows == nil {
		out.Rows = map[string]int64{}
	}
	for _, pp := range res.Pipelines {
		if pp.Runs == 0 {
			continue
		}
		out.Pipelines = append(out.Pipelines, CleanupPipeline{ID: pp.ID, RetentionSeconds: pp.Retention.Seconds(),
			Cutoff: pp.Cutoff, Runs: pp.Runs, Oldest: pp.Oldest})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
