package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// recentRuns is how many runs a pipeline lists as recent.
const recentRuns = 10

func (a *API) listPipelines(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	filter, err := control.PipelineFilter(r.URL.Query())
	if err != nil {
		return err
	}
	sps, err := a.st.PipelineSearch(ctx, filter)
	if err != nil {
		return err
	}
	// A page, when asked for: the filter is SQL's, the page is cut here,
	// before the costly part (recent runs, versions, next runs).
	q := r.URL.Query()
	offset, err := queryCount(q.Get("offset"), "offset")
	if err != nil {
		return err
	}
	limit, err := queryCount(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(sps)))
	sps = sps[min(int(offset), len(sps)):]
	if limit > 0 {
		sps = sps[:min(int(limit), len(sps))]
	}
	ids := make([]string, len(sps))
	for i, sp := range sps {
		ids[i] = sp.ID
	}
	recent, err := a.st.RunListRecentFor(ctx, ids, recentRuns)
	if err != nil {
		return err
	}
	out := make([]Pipeline, 0, len(sps))
	for _, sp := range sps {
		var p *pipeline.Pipeline
		if sp.VersionID != 0 {
			if p, err = a.versions.get(ctx, sp.VersionID); err != nil {
				// One bad version must not hide every pipeline.
				a.logger(r).Error("api: cannot read a pipeline's live version", "pipeline", sp.ID, "version", sp.VersionID, "err", err)
			}
		}
		out = append(out, a.pipelineOut(sp, p, recent[sp.ID]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pipeline reads a pipeline in its listed form.
func (a *API) pipeline(r *http.Request, id string) (Pipeline, *store.Pipeline, *pipeline.Pipeline, error) {
	ctx := r.Context()
	sp, err := a.st.PipelineGet(ctx, id)
	if err != nil {
		return Pipeline{}, nil, nil, err
	}
	var p *pipeline.Pipeline
	if sp.VersionID != 0 {
		if p, err = a.versions.get(ctx, sp.VersionID); err != nil {
			return Pipeline{}, nil, nil, err
		}
	}
	recent, err := a.st.RunList(ctx, &store.RunListParams{PipelineID: id, Limit: recentRuns})
	if err != nil {
		return Pipeline{}, nil, nil, err
	}
	return a.pipelineOut(sp, p, recent), sp, p, nil
}

func (a *API) getPipeline(w http.ResponseWriter, r *http.Request) error {
	out, sp, p, err := a.pipeline(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	detail := PipelineDetail{Pipeline: out, Tasks: []*pipeline.Task{}, FileTriggers: []FileTrigger{}, Groups: map[string]*pipeline.Group{}}
	if p != nil {
		if detail.FileTriggers, err = a.fileTriggers(r.Context(), sp.ID, p); err != nil {
			return err
		}
		v, err := a.st.VersionGet(r.Context(), sp.VersionID)
		if err != nil {
			return err
		}
		detail.Source = v.Source
		for _, id := range p.TopoOrder() {
			detail.Tasks = append(detail.Tasks, p.Tasks[id])
		}
		for name, g := range p.Groups {
			detail.Groups[name] = g
		}
	}
	writeJSON(w, http.StatusOK, detail)
	return nil
}

// uploadTypes are the Content-Types of a raw pipeline file upload.
var uploadTypes = map[string]bool{"application/yaml": true, "application/x-yaml": true, "text/yaml": true, "text/x-yaml": true, "text/plain": true}

func (a *API) upload(w http.ResponseWriter, r *http.Request) error {
	name, src, err := readUpload(r)
	if err != nil {
		return err
	}
	res, err := a.ctl.Upload(r.Context(), name, src, by(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, UploadResult{
		Pipeline: res.Pipeline.ID, Version: res.Pipeline.Hash(), VersionID: res.VersionID, Created: res.Created, Changed: res.Changed,
	})
	return nil
}

// readUpload returns the name and content of an uploaded pipeline file:
// the "file" part of a multipart form, or the raw body named by ?name=.
func readUpload(r *http.Request) (string, []byte, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return "", nil, sluice.Errorf(sluice.EBADREQUEST, "Content-Type %q: %v", r.Header.Get("Content-Type"), err)
	}
	switch {
	case ct == "multipart/form-data":
		// The CSRF check may have parsed the form already; FormFile
		// parses it otherwise, within the server's body limit.
		f, fh, err := r.FormFile("file")
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return "", nil, err
			}
			if errors.Is(err, http.ErrMissingFile) {
				return "", nil, sluice.Errorf(sluice.EBADREQUEST, "the form has no file: send the pipeline file in the field \"file\"")
			}
			return "", nil, sluice.Errorf(sluice.EBADREQUEST, "cannot read the form: %v", err)
		}
		defer f.Close()
		src, err := io.ReadAll(io.LimitReader(f, control.MaxUpload+1))
		if err != nil {
			return "", nil, err
		}
		return partFileName(fh), src, nil
	case uploadTypes[ct]:
		src, err := io.ReadAll(io.LimitReader(r.Body, control.MaxUpload+1))
		if err != nil {
			return "", nil, err
		}
		return r.URL.Query().Get("name"), src, nil
	}
	return "", nil, sluice.Errorf(sluice.EBADREQUEST,
		"send the pipeline file as multipart/form-data in the field \"file\", or as the request body with Content-Type application/yaml and its name in ?name=")
}

// partFileName is the file name a client sent, unchanged. (The multipart
// package keeps only the last element of a path; control.Upload must see
// the name as sent to refuse one with a path.)
func partFileName(fh *multipart.FileHeader) string {
	if _, params, err := mime.ParseMediaType(fh.Header.Get("Content-Disposition")); err == nil {
		if name, ok := params["filename"]; ok {
			return name
		}
	}
	return fh.Filename
}

func (a *API) deletePipeline(w http.ResponseWriter, r *http.Request) error {
	andFile, err := boolQuery(r, "and_file")
	if err != nil {
		return err
	}
	if err := a.ctl.Delete(r.Context(), r.PathValue("id"), by(r), andFile); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) pause(w http.ResponseWriter, r *http.Request) error   { return a.setPaused(w, r, true) }
func (a *API) unpause(w http.ResponseWriter, r *http.Request) error { return a.setPaused(w, r, false) }

func (a *API) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	id := r.PathValue("id")
	if err := a.ctl.SetPaused(r.Context(), id, paused, by(r)); err != nil {
		return err
	}
	out, _, _, err := a.pipeline(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) trigger(w http.ResponseWriter, r *http.Request) error {
	var req TriggerRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	run, err := a.ctl.Trigger(r.Context(), r.PathValue("id"), req.Params, by(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/runs/"+itoa(run.ID))
	writeJSON(w, http.StatusCreated, a.runOut(run))
	return nil
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sp, err := a.st.PipelineGet(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	list, err := a.st.VersionList(ctx, sp.ID)
	if err != nil {
		return err
	}
	out := make([]Version, 0, len(list))
	for _, v := range list {
		out = append(out, versionOut(v, sp.VersionID))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	v, err := a.ctl.ResolveVersion(ctx, id, r.PathValue("version"))
	if err != nil {
		return err
	}
	sp, err := a.st.PipelineGet(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, VersionDetail{Version: versionOut(v, sp.VersionID), Pipeline: id, Source: v.Source, Spec: v.Spec})
	return nil
}

func (a *API) diff(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	q := r.URL.Query()
	sp, err := a.st.PipelineGet(ctx, id)
	if err != nil {
		return err
	}
	to, err := a.ctl.ResolveVersion(ctx, id, q.Get("to"))
	if err != nil {
		return err
	}
	var from *store.Version
	if q.Get("from") != "" {
		if from, err = a.ctl.ResolveVersion(ctx, id, q.Get("from")); err != nil {
			return err
		}
	} else {
		// The version before to: the list is newest first.
		list, err := a.st.VersionList(ctx, id)
		if err != nil {
			return err
		}
		for i, v := range list {
			if v.ID == to.ID && i+1 < len(list) {
				from = list[i+1]
			}
		}
		if from == nil {
			return sluice.Errorf(sluice.EBADREQUEST, "version %d is the first version of %q: give from= to compare it with another", to.ID, id)
		}
	}
	text, err := a.ctl.Diff(ctx, id, from.ID, to.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Diff{From: versionOut(from, sp.VersionID), To: versionOut(to, sp.VersionID), Diff: text})
	return nil
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, sluice.Errorf(sluice.EBADREQUEST, "?%s=%q: want true or false", name, v)
	}
	return b, nil
}

// fileTriggers describes the files triggers of a pipeline's live version
// with what the schedulers recorded of their watch.
func (a *API) fileTriggers(ctx context.Context, id string, p *pipeline.Pipeline) ([]FileTrigger, error) {
	out := []FileTrigger{}
	var watches map[string]*store.FileWatch
	for _, t := range p.Triggers {
		if t.Files == nil {
			continue
		}
		if watches == nil {
			ws, err := a.st.FileWatchList(ctx, id)
			if err != nil {
				return nil, err
			}
			watches = map[string]*store.FileWatch{}
			for _, w := range ws {
				watches[w.Source] = w
			}
		}
		ft := FileTrigger{Source: t.Files.Source(), Path: t.Files.Path, Pattern: t.Files.Pattern}
		if w := watches[ft.Source]; w != nil {
			ft.WatchingSince, ft.Problem = w.StartedAt, w.Problem
			if w.Problem != "" {
				ft.ProblemSince = w.ProblemAt
			}
		}
		out = append(out, ft)
	}
	return out, nil
}

// queryCount reads a count from a query value: 0 when empty.
func queryCount(s, name string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, sluice.Errorf(sluice.EBADREQUEST, "%s=%q: want a number, 0 or more", name, s)
	}
	return n, nil
}
