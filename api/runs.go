package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Page sizes of GET /api/v1/runs.
const (
	defaultRunLimit = 50
	// MaxRunLimit is the most runs one page lists.
	MaxRunLimit = 500
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &store.RunListParams{PipelineID: q.Get("pipeline")}
	for _, v := range q["state"] {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			state := sluice.RunState(s)
			ok := false
			for _, k := range sluice.RunStates {
				ok = ok || k == state
			}
			if !ok {
				return sluice.Errorf(sluice.EBADREQUEST, "state %q: want queued, running, success, failed or cancelled", s)
			}
			p.States = append(p.States, state)
		}
	}
	lp, err := a.readListPage(r)
	if err != nil {
		return err
	}
	limit := lp.limit
	p.Tags, p.Since, p.Until, p.BeforeID, p.Limit = lp.tags, lp.since, lp.until, lp.before, lp.fetch
	runs, err := a.st.RunList(r.Context(), p)
	if err != nil {
		return err
	}
	out := RunList{Runs: []Run{}}
	if len(runs) > int(limit) {
		runs = runs[:limit]
		next := runs[len(runs)-1].ID
		out.NextBefore = &next
	}
	for _, run := range runs {
		out.Runs = append(out.Runs, a.runOut(run))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// queryInt reads a positive integer query value; empty gives def.
func queryInt(s, name string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, sluice.Errorf(sluice.EBADREQUEST, "%s=%q: want a positive number", name, s)
	}
	return n, nil
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	run, err := a.st.RunGet(ctx, id)
	if err != nil {
		return err
	}
	all, err := a.st.InstanceList(ctx, id)
	if err != nil {
		return err
	}
	ins, items := byTask(all)
	// Tasks in the dependency order of the run's version; any the version
	// does not know (there should be none) go last, by id.
	rank := map[string]int{}
	p, err := a.versions.get(ctx, run.VersionID)
	if err == nil {
		for i, t := range p.TopoOrder() {
			rank[t] = i + 1
		}
	} else {
		a.logger(r).Error("api: cannot read a run's version", "run", id, "version", run.VersionID, "err", err)
	}
	sort.SliceStable(ins, func(i, j int) bool {
		ri, rj := rank[ins[i].TaskID], rank[ins[j].TaskID]
		if (ri == 0) != (rj == 0) {
			return ri != 0
		}
		if ri != rj {
			return ri < rj
		}
		return ins[i].TaskID < ins[j].TaskID
	})
	out := RunDetail{Run: a.runOut(run), Tasks: make([]TaskInstance, 0, len(ins)), Children: []Run{}, TriggerEvents: []AssetEvent{}}
	if out.Triggers, err = a.runTriggers(ctx, run.ID); err != nil {
		return err
	}
	if run.Kind == store.RunAsset {
		evs, err := a.st.RunTriggerEvents(ctx, run.ID)
		if err != nil {
			return err
		}
		for _, e := range evs {
			out.TriggerEvents = append(out.TriggerEvents, assetEventOut(e))
		}
	}
	for _, in := range ins {
		ti := a.instanceOut(in, items[in.TaskID])
		if p != nil && p.Tasks[in.TaskID] != nil {
			ti.Group = p.Tasks[in.TaskID].Group
		}
		out.Tasks = append(out.Tasks, ti)
	}
	if p != nil {
		children, err := a.ctl.Children(ctx, run, p)
		if err != nil {
			return err
		}
		for _, c := range children {
			out.Children = append(out.Children, a.runOut(c))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	if err := a.ctl.Cancel(r.Context(), id, by(r)); err != nil {
		return err
	}
	run, err := a.st.RunGet(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.runOut(run))
	return nil
}

func (a *API) retry(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	n, err := a.ctl.RetryFailed(r.Context(), id, by(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RetryResult{Retried: n})
	return nil
}

// itemQuery reads ?item=, the map index of one item of a mapped task;
// -1 when absent.
func itemQuery(r *http.Request) (int, error) {
	s := r.URL.Query().Get("item")
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, sluice.Errorf(sluice.EBADREQUEST, "item=%q: want the index of an item, from 0", s)
	}
	return n, nil
}

// instance returns a task of a run, or with item ≥ 0 one of its items.
func (a *API) instance(ctx context.Context, runID int64, task string, item int) (*store.Instance, error) {
	in, err := a.st.InstanceGet(ctx, runID, task)
	if err != nil || item < 0 {
		return in, err
	}
	if in.ItemsTotal > 0 {
		found, err := a.st.InstanceSelect(ctx, &store.InstanceSelectParams{RunIDs: []int64{runID}, TaskID: task, Which: store.Item, MapIndex: item})
		if err != nil {
			return nil, err
		}
		if len(found) > 0 {
			return found[0], nil
		}
	}
	if in.ItemsTotal == 0 {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "task %q of run %d has no items: it is not a mapped task, or it has not expanded yet", task, runID)
	}
	return nil, sluice.Errorf(sluice.ENOTFOUND, "task %q of run %d has no item %d: it has %d, from 0", task, runID, item, in.ItemsTotal)
}

// items returns the items of a mapped task's instance, in order; none for
// another task.
func (a *API) items(ctx context.Context, in *store.Instance) ([]*store.Instance, error) {
	if in.MapIndex >= 0 || in.ItemsTotal == 0 {
		return nil, nil
	}
	items, err := a.st.InstanceSelect(ctx, &store.InstanceSelectParams{RunIDs: []int64{in.RunID}, TaskID: in.TaskID, Which: store.OnlyItems})
	if err != nil {
		return nil, err
	}
	_, byItem := byTask(items) // in map index order
	return byItem[in.TaskID], nil
}

func (a *API) getTask(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	item, err := itemQuery(r)
	if err != nil {
		return err
	}
	task := r.PathValue("task")
	in, err := a.instance(ctx, id, task, item)
	if err != nil {
		return err
	}
	atts, err := a.st.AttemptList(ctx, in.ID)
	if err != nil {
		return err
	}
	outputs, err := a.st.OutputList(ctx, id, []string{task})
	if err != nil {
		return err
	}
	var items []*store.Instance
	if item < 0 {
		if items, err = a.items(ctx, in); err != nil {
			return err
		}
	}
	ti := a.instanceOut(in, items)
	out := TaskDetail{
		Run: id, Task: ti.Task, State: ti.State, Failures: ti.Failures, ReadyAt: ti.ReadyAt, StartedAt: ti.StartedAt,
		FinishedAt: ti.FinishedAt, DurationSeconds: ti.DurationSeconds, Attempts: make([]Attempt, 0, len(atts)), Outputs: outputs[task],
		Blocked: ti.Blocked, ItemsTotal: ti.ItemsTotal, Items: ti.Items,
	}
	if item >= 0 {
		out.MapIndex, out.Item = &in.MapIndex, in.Item
		out.Outputs = itemOutputs(outputs[task], item)
	}
	if out.Outputs == nil {
		out.Outputs = map[string]string{}
	}
	for _, at := range atts {
		out.Attempts = append(out.Attempts, a.attemptOut(at))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// itemOutputs picks one item's outputs out of its mapped task's, which
// hold a JSON array per key with an element per item (null where the item
// gave none).
func itemOutputs(task map[string]string, index int) map[string]string {
	out := map[string]string{}
	for k, v := range task {
		var values []*string
		if json.Unmarshal([]byte(v), &values) != nil || index >= len(values) || values[index] == nil {
			continue
		}
		out[k] = *values[index]
	}
	return out
}

func (a *API) clearTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	task := r.PathValue("task")
	if err := a.ctl.Clear(r.Context(), id, task, by(r)); err != nil {
		return err
	}
	return a.writeInstance(w, r, id, task)
}

func (a *API) markTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	var req MarkRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	state := sluice.InstanceState(req.State)
	if state != sluice.InstanceSuccess && state != sluice.InstanceFailed {
		return sluice.Errorf(sluice.EINVALID, "state %q: a task can be marked success or failed", req.State)
	}
	task := r.PathValue("task")
	if err := a.ctl.Mark(r.Context(), id, task, state, by(r)); err != nil {
		return err
	}
	return a.writeInstance(w, r, id, task)
}

func (a *API) writeInstance(w http.ResponseWriter, r *http.Request, runID int64, task string) error {
	in, err := a.st.InstanceGet(r.Context(), runID, task)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.instanceOut(in, nil))
	return nil
}

func (a *API) clearSet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	var req ClearRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	sel, err := a.ctl.ClearSet(r.Context(), &store.ClearParams{Selection: storeSelection(id, req.Selection), OnlyFailed: req.OnlyFailed}, by(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, selectionOut(req.DryRun, sel))
	return nil
}

func (a *API) markSet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "run")
	if err != nil {
		return err
	}
	var req MarkSetRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	state := sluice.InstanceState(req.State)
	if state != sluice.InstanceSuccess && state != sluice.InstanceFailed {
		return sluice.Errorf(sluice.EINVALID, "state %q: tasks can be marked success or failed", req.State)
	}
	sel, err := a.ctl.MarkSet(r.Context(), &store.MarkParams{Selection: storeSelection(id, req.Selection), State: state}, by(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, selectionOut(req.DryRun, sel))
	return nil
}

func storeSelection(runID int64, s Selection) store.Selection {
	return store.Selection{RunID: runID, TaskIDs: s.Tasks, Downstream: s.Downstream, Upstream: s.Upstream, Past: s.Past, Future: s.Future, DryRun: s.DryRun}
}

func selectionOut(dry bool, sel []*store.Selected) SelectionResult {
	out := SelectionResult{DryRun: dry, Count: len(sel), Instances: make([]SelectedInstance, 0, len(sel))}
	for _, s := range sel {
		out.Instances = append(out.Instances, SelectedInstance{Run: s.RunID, LogicalDate: s.LogicalDate.UTC(), Task: s.TaskID, State: string(s.State)})
	}
	return out
}
