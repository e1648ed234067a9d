package web

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// runTick is how often a running run's page refreshes even when nothing
// changed, so its durations and Gantt bars grow.
const runTick = 5 * time.Second

type runData struct {
	Run    *store.Run
	P      *pipeline.Pipeline
	Params []keyValue
	Tasks  []*taskRow
	Counts []stateCount
	Graph  *graphView
	Gantt  *ganttView
	// Fold is which task groups the graph shows open.
	Fold *groupFold
	// Parent is the run whose pipeline: task started this one (nil when
	// none did, or when it was deleted: Run.ParentRunID still says which).
	Parent *store.Run
	// Blocked are the tasks and items that are ready but that nothing can
	// start, with why.
	Blocked     []blockedTask
	Callbacks   []*store.Callback
	Fingerprint string
	// Trigger says what made the run.
	Trigger *runTrigger
}

// blockedTask is a ready task (or item) that cannot start.
type blockedTask struct {
	Label, Href, Reason string
}

// isBlocked reports whether an instance is ready but cannot start: the
// scheduler records why in Blocked, and the reason stays until it is
// gone, so only a waiting instance counts.
func isBlocked(in *store.Instance) bool {
	if in == nil || in.Blocked == "" {
		return false
	}
	switch in.State {
	case sluice.InstanceQueued, sluice.InstanceUpForRetry, sluice.InstanceUpForReschedule:
		return true
	}
	return false
}

type keyValue struct{ Key, Value string }

type taskRow struct {
	ID       string
	Instance *store.Instance
	State    sluice.InstanceState
	Attempts []*store.Attempt
	Error    string
	// Blocked says why the ready task cannot start; empty when it can.
	Blocked string
	// Children are the runs a pipeline: task started, oldest first.
	Children []*store.Run
	// Items are the instances of a mapped task's items.
	Items []*itemRow
	// Group is the task group of the task, or of the head row: Head is
	// set on the row that heads Group's tasks, whose State is theirs
	// together, Count their number, and Clear the Clear dialog for them.
	Group, Description, Clear string
	Head                      bool
	Count                     int
}

// groupHead is the row of the run page's task list that heads the tasks
// of group g.
func groupHead(p *pipeline.Pipeline, g string, byTask map[string]*store.Instance, runID int64) *taskRow {
	tasks := p.GroupTasks(g)
	row := &taskRow{ID: g, Group: g, Head: true, Count: len(tasks), State: groupState(tasks, byTask), Description: p.Groups[g].Description}
	var present []string
	for _, t := range tasks {
		if byTask[t] != nil {
			present = append(present, t)
		}
	}
	if len(present) > 0 {
		row.Clear = clearHref(runID, present)
	}
	return row
}

// itemRow is one item of a mapped task.
type itemRow struct {
	Instance *store.Instance
	Item     string
	Attempts []*store.Attempt
	Error    string
	Blocked  string
	Href     string
}

// lastError is why the last of attempts did not succeed; empty when it
// did (a successful attempt may carry a note, such as how many items a
// mapped task expanded into).
func lastError(attempts []*store.Attempt) string {
	if n := len(attempts); n > 0 && attempts[n-1].State != sluice.AttemptSuccess && attempts[n-1].State != sluice.AttemptRunning {
		return attempts[n-1].Error
	}
	return ""
}

// taskHref links to the log of a task of a run, or of one of its items
// when item >= 0.
func taskHref(runID int64, task string, item int) string {
	h := fmt.Sprintf("/runs/%d/tasks/%s", runID, url.PathEscape(task))
	if item >= 0 {
		h += fmt.Sprintf("?item=%d", item)
	}
	return h
}

type stateCount struct {
	State string
	N     int
}

// runFingerprint sums up a run's state and its instances'; with a non-zero
// tick, an unfinished run's also changes every runTick.
func (w *Web) runFingerprint(ctx context.Context, id int64, tick time.Time) (string, error) {
	run, err := w.st.RunGet(ctx, id)
	if err != nil {
		return "", err
	}
	ins, err := w.st.InstanceList(ctx, id)
	if err != nil {
		return "", err
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|", run.State)
	if !run.State.Finished() && !tick.IsZero() {
		fmt.Fprintf(h, "%d|", tick.UnixNano()/int64(runTick))
	}
	for _, in := range ins {
		fmt.Fprintf(h, "%s[%d]=%s/%d/%d/%t:%s,", in.TaskID, in.MapIndex, in.State, in.Attempts, in.Failures, isBlocked(in), in.Blocked)
	}
	// The runs this one started, and its callbacks, change on their own.
	children, err := w.children(ctx, run)
	if err != nil {
		return "", err
	}
	for _, c := range children {
		fmt.Fprintf(h, "child %d:%s,", c.ID, c.State)
	}
	cbs, err := w.st.CallbackList(ctx, id)
	if err != nil {
		return "", err
	}
	for _, c := range cbs {
		fmt.Fprintf(h, "cb %d:%s:%d,", c.ID, c.State, c.Tries)
	}
	return fmt.Sprintf("%x", h.Sum64()), nil
}

// children returns the runs that a run's pipeline: tasks started; none
// when its version has no such task (which costs no query).
func (w *Web) children(ctx context.Context, run *store.Run) ([]*store.Run, error) {
	p, err := w.versionOf(ctx, run.VersionID)
	if err != nil || p == nil {
		return nil, err
	}
	for _, t := range p.Tasks {
		if t.Kind == pipeline.KindPipeline {
			return w.ctl.Children(ctx, run, p)
		}
	}
	return nil, nil
}

func (w *Web) loadRun(ctx context.Context, r *http.Request) (*runData, *view, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, nil, err
	}
	fp, err := w.runFingerprint(ctx, id, w.clock.Now())
	if err != nil {
		return nil, nil, err
	}
	run, err := w.st.RunGet(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	d := &runData{Run: run, Fingerprint: fp}
	if d.P, err = w.versionOf(ctx, run.VersionID); err != nil {
		return nil, nil, err
	}
	var params map[string]any
	if len(run.Params) > 0 {
		if err := json.Unmarshal(run.Params, &params); err != nil {
			return nil, nil, fmt.Errorf("run %d params: %w", id, err)
		}
	}
	for k, v := range params {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		d.Params = append(d.Params, keyValue{k, s})
	}
	sort.Slice(d.Params, func(i, j int) bool { return d.Params[i].Key < d.Params[j].Key })

	ins, err := w.st.InstanceList(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	attempts, err := w.st.AttemptListByRun(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	// A mapped task has its own instance (MapIndex -1), which carries the
	// task's state, and one instance per item.
	byTask := map[string]*store.Instance{}
	items := map[string][]*store.Instance{}
	present := map[string]bool{}
	for _, in := range ins {
		present[in.TaskID] = true
		if in.MapIndex < 0 {
			byTask[in.TaskID] = in
		} else {
			items[in.TaskID] = append(items[in.TaskID], in)
		}
	}
	attemptsOf := map[int64][]*store.Attempt{}
	for _, a := range attempts {
		attemptsOf[a.InstanceID] = append(attemptsOf[a.InstanceID], a)
	}
	children, err := w.children(ctx, run)
	if err != nil {
		return nil, nil, err
	}
	childrenOf := map[string][]*store.Run{}
	for _, c := range children {
		childrenOf[c.ParentTask] = append(childrenOf[c.ParentTask], c)
	}
	if run.ParentRunID != nil {
		switch parent, err := w.st.RunGet(ctx, *run.ParentRunID); {
		case err == nil:
			d.Parent = parent
		case sluice.ErrorCode(err) != sluice.ENOTFOUND:
			return nil, nil, err
		}
	}
	if d.Callbacks, err = w.st.CallbackList(ctx, id); err != nil {
		return nil, nil, err
	}
	if d.Trigger, err = w.loadRunTrigger(ctx, run); err != nil {
		return nil, nil, err
	}
	counts := map[string]int{}
	order := taskOrder(d.P, present)
	var rows []ganttRowSpec
	for _, gi := range groupedOrder(d.P, order) {
		t := gi.Task
		if t == "" {
			d.Tasks = append(d.Tasks, groupHead(d.P, gi.Group, byTask, run.ID))
			continue
		}
		row := &taskRow{ID: t, Instance: byTask[t], Children: childrenOf[t], Group: gi.Group}
		if isBlocked(row.Instance) {
			row.Blocked = row.Instance.Blocked
			d.Blocked = append(d.Blocked, blockedTask{Label: t, Href: taskHref(run.ID, t, -1), Reason: row.Blocked})
		}
		if row.Instance != nil {
			row.State = row.Instance.State
			row.Attempts = attemptsOf[row.Instance.ID]
			counts[string(row.State)]++
			rows = append(rows, ganttRowSpec{InstanceID: row.Instance.ID, Task: t, Label: t, Href: taskHref(run.ID, t, -1)})
		}
		row.Error = lastError(row.Attempts)
		for _, it := range items[t] {
			ir := &itemRow{Instance: it, Attempts: attemptsOf[it.ID], Href: taskHref(run.ID, t, it.MapIndex)}
			if it.Item != nil {
				ir.Item = *it.Item
			}
			ir.Error = lastError(ir.Attempts)
			if isBlocked(it) {
				ir.Blocked = it.Blocked
				d.Blocked = append(d.Blocked, blockedTask{Label: fmt.Sprintf("%s[%d]", t, it.MapIndex), Href: ir.Href, Reason: it.Blocked})
			}
			row.Items = append(row.Items, ir)
			rows = append(rows, ganttRowSpec{InstanceID: it.ID, Task: t, Label: fmt.Sprintf("%s[%d]", t, it.MapIndex), Href: ir.Href})
		}
		d.Tasks = append(d.Tasks, row)
	}
	for _, s := range legendStates {
		if counts[s] > 0 {
			d.Counts = append(d.Counts, stateCount{s, counts[s]})
		}
	}
	v := w.newView(r, fmt.Sprintf("%s · run %d", run.PipelineID, run.ID), "pipelines", d)
	d.Fold = foldOf(r, fmt.Sprintf("/runs/%d", run.ID))
	d.Graph = buildGraph(d.P, byTask, run.ID, d.Fold)
	d.Gantt = buildGantt(run, rows, attempts, v.Now, v.Zone)
	return d, v, nil
}

func (w *Web) runPage(rw http.ResponseWriter, r *http.Request) error {
	_, v, err := w.loadRun(r.Context(), r)
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "run", v)
}

func (w *Web) runLive(rw http.ResponseWriter, r *http.Request) error {
	_, v, err := w.loadRun(r.Context(), r)
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "run-live", v)
}

func (w *Web) cancelPost(rw http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := w.ctl.Cancel(r.Context(), id, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	return w.done(rw, r, fmt.Sprintf("/runs/%d", id), fmt.Sprintf("Run %d cancelled: its running tasks are being stopped.", id))
}

func (w *Web) retryPost(rw http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	n, err := w.ctl.RetryFailed(r.Context(), id, auth.FromContext(r.Context()).Name)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Run %d: %d failed %s will run again.", id, n, pluralWord(n, "task", "tasks"))
	if n == 0 {
		msg = fmt.Sprintf("Run %d has no failed tasks to retry.", id)
	}
	return w.done(rw, r, fmt.Sprintf("/runs/%d", id), msg)
}

func (w *Web) clearPost(rw http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	task := r.PathValue("task")
	if err := w.ctl.Clear(r.Context(), id, task, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	return w.done(rw, r, backTo(r, fmt.Sprintf("/runs/%d", id)), fmt.Sprintf("Task %s cleared: it runs again, with everything downstream of it.", task))
}

func (w *Web) markPost(rw http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	task := r.PathValue("task")
	state := sluice.InstanceState(r.PostFormValue("state"))
	if state != sluice.InstanceSuccess && state != sluice.InstanceFailed {
		return sluice.Errorf(sluice.EBADREQUEST, "a task can be marked success or failed, not %q", state)
	}
	if err := w.ctl.Mark(r.Context(), id, task, state, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	return w.done(rw, r, backTo(r, fmt.Sprintf("/runs/%d", id)), fmt.Sprintf("Task %s marked %s.", task, state))
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
