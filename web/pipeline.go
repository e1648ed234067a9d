package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// gridRuns is how many runs the grid shows.
const gridRuns = 25

// pipelineHead is what every tab of a pipeline page shows at the top.
type pipelineHead struct {
	SP   *store.Pipeline
	P    *pipeline.Pipeline
	Tab  string
	Next *time.Time
	// Assets is what a pipeline scheduled on assets waits for; nil for
	// other pipelines.
	Assets *assetWait
	// FileProblems are what keeps the pipeline's files triggers from
	// watching their folders (a missing folder, say).
	FileProblems []*store.FileWatch
	// Fingerprint is the state the page shows, for its event stream.
	Fingerprint string
}

// Head returns the head itself. The head's templates read it through
// Head, so a field of a tab's data that has the name of a head field
// (runsData had its own Next) cannot hide the head's.
func (h *pipelineHead) Head() *pipelineHead { return h }

func (w *Web) loadHead(ctx context.Context, id, tab string) (*pipelineHead, error) {
	sp, p, err := w.pipelineOf(ctx, id)
	if err != nil {
		return nil, err
	}
	h := &pipelineHead{SP: sp, P: p, Tab: tab}
	if next, ok := w.ctl.NextRun(sp, p); ok {
		h.Next = &next
	}
	if h.Assets, err = w.loadAssetWait(ctx, id); err != nil {
		return nil, err
	}
	if h.FileProblems, err = w.fileProblems(ctx, sp.ID, p); err != nil {
		return nil, err
	}
	return h, nil
}

// fileProblems returns the problems of the live version's files triggers;
// those of triggers it no longer has do not count.
func (w *Web) fileProblems(ctx context.Context, id string, p *pipeline.Pipeline) ([]*store.FileWatch, error) {
	if p == nil {
		return nil, nil
	}
	ws, err := w.st.FileWatchList(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []*store.FileWatch
	for _, fw := range ws {
		if fw.Problem != "" && p.FilesTrigger(fw.Source) != nil {
			out = append(out, fw)
		}
	}
	return out, nil
}

// pipelineFingerprint sums up what the pipeline pages show: the pipeline
// itself, its newest runs and the task states of the unfinished ones.
// Finished runs change only by starting again, which changes their state.
func (w *Web) pipelineFingerprint(ctx context.Context, id string) (string, error) {
	sp, err := w.st.PipelineGet(ctx, id)
	if err != nil {
		return "", err
	}
	runs, err := w.st.RunList(ctx, &store.RunListParams{PipelineID: id, Limit: gridRuns})
	if err != nil {
		return "", err
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%t|%t|%s|", sp.VersionID, sp.Paused, sp.Missing, sp.ParseError)
	ws, err := w.st.FileWatchList(ctx, id)
	if err != nil {
		return "", err
	}
	for _, fw := range ws {
		fmt.Fprintf(h, "%s:%s;", fw.Source, fw.Problem)
	}
	var unfinished []int64
	for _, r := range runs {
		fmt.Fprintf(h, "%d:%s;", r.ID, r.State)
		if !r.State.Finished() {
			unfinished = append(unfinished, r.ID)
		}
	}
	// The pages draw a mapped task from its own instance, not its items:
	// hashing those too re-read a 100,000-item run on every check.
	ins, err := w.st.InstanceSelect(ctx, &store.InstanceSelectParams{RunIDs: unfinished, Which: store.NoItems})
	if err != nil {
		return "", err
	}
	for _, in := range ins {
		fmt.Fprintf(h, "%d:%s=%s/%d,", in.RunID, in.TaskID, in.State, in.Attempts)
	}
	// What a pipeline on assets waits for changes with every event.
	waits, err := w.st.AssetConsumerStatus(ctx, id)
	if err != nil {
		return "", err
	}
	for _, s := range waits {
		fmt.Fprintf(h, "asset %s:%d/%d;", s.Asset, s.LastConsumedID, s.NewestID)
	}
	return fmt.Sprintf("%x", h.Sum64()), nil
}

// pipelineHeadLive is the head of a pipeline's pages, for the pages that
// follow the pipeline live: its state, lifecycle and file errors.
func (w *Web) pipelineHeadLive(rw http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	head, err := w.loadHead(r.Context(), id, r.URL.Query().Get("tab"))
	if err != nil {
		return err
	}
	head.Fingerprint = "live"
	v := w.newView(r, "", "", head)
	// The pause switch comes back to the page, not to this fragment.
	v.Path = "/pipelines/" + url.PathEscape(id)
	if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && u.Host == r.Host && u.Path != "" {
		v.Path = stripNotice(localPath(u.RequestURI()))
	}
	return w.fragment(rw, http.StatusOK, "pipeline-head-live", v)
}

// Grid.

type gridData struct {
	*pipelineHead
	Runs []gridRun
	Rows []gridRow
	// Recent are the newest runs, newest first, for the list beside the
	// grid.
	Recent []*store.Run
	// Fold is which task groups show their tasks.
	Fold *groupFold
}

type gridRun struct {
	Run *store.Run
	// BarH is the height of the run's duration bar, of gridBarMax.
	BarH, BarY float64
}

type gridRow struct {
	Task  string
	Cells []gridCell
	// Group is the task group of the row's task; on the row that heads
	// the group (Head), Task is the group's name, each cell holds the
	// group's aggregate state in that run, Open says whether its tasks
	// are shown and Toggle links to the grid with it opened or closed.
	Group, Toggle, Description string
	Head, Open                 bool
	Count                      int
}

type gridCell struct {
	RunID    int64
	Has      bool
	State    sluice.InstanceState
	Attempts int
	Logical  time.Time
}

const gridBarMax = 36.0

func (w *Web) loadGrid(ctx context.Context, r *http.Request, id string) (*gridData, error) {
	head, err := w.loadHead(ctx, id, "grid")
	if err != nil {
		return nil, err
	}
	if head.Fingerprint, err = w.pipelineFingerprint(ctx, id); err != nil {
		return nil, err
	}
	runs, err := w.st.RunList(ctx, &store.RunListParams{PipelineID: id, Limit: gridRuns})
	if err != nil {
		return nil, err
	}
	slices.Reverse(runs)
	d := &gridData{pipelineHead: head}
	byRun := make([]map[string]*store.Instance, len(runs))
	extra := map[string]bool{}
	var longest time.Duration
	now := w.clock.Now()
	// One query for every run, without the items of mapped tasks (a
	// task's own instance stands for them): a grid of 25 runs of a task
	// mapped over 100,000 items read 2.5 million rows to draw 25 cells.
	ids := make([]int64, len(runs))
	index := make(map[int64]int, len(runs))
	for i, run := range runs {
		ids[i], index[run.ID] = run.ID, i
		byRun[i] = map[string]*store.Instance{}
		longest = max(longest, runDuration(run, now))
	}
	ins, err := w.st.InstanceSelect(ctx, &store.InstanceSelectParams{RunIDs: ids, Which: store.NoItems})
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		extra[in.TaskID] = true
		byRun[index[in.RunID]][in.TaskID] = in
	}
	for i := len(runs) - 1; i >= 0 && len(d.Recent) < 10; i-- {
		d.Recent = append(d.Recent, runs[i])
	}
	for _, run := range runs {
		gr := gridRun{Run: run}
		if longest > 0 {
			gr.BarH = max(2, gridBarMax*float64(runDuration(run, now))/float64(longest))
		}
		gr.BarY = gridBarMax - gr.BarH
		d.Runs = append(d.Runs, gr)
	}
	d.Fold = foldOf(r, "/pipelines/"+id)
	for _, gi := range groupedOrder(head.P, taskOrder(head.P, extra)) {
		if gi.Task == "" {
			d.Rows = append(d.Rows, gridGroupRow(head.P, gi.Group, runs, byRun, d.Fold))
			continue
		}
		if gi.Group != "" && !d.Fold.Open(gi.Group) {
			continue
		}
		row := gridRow{Task: gi.Task, Group: gi.Group}
		for i, run := range runs {
			c := gridCell{RunID: run.ID, Logical: run.LogicalDate}
			if in := byRun[i][gi.Task]; in != nil {
				c.Has, c.State, c.Attempts = true, in.State, in.Attempts
			}
			row.Cells = append(row.Cells, c)
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// gridGroupRow is the row of the grid that heads group g: its aggregate
// state in each run.
func gridGroupRow(p *pipeline.Pipeline, g string, runs []*store.Run, byRun []map[string]*store.Instance, fold *groupFold) gridRow {
	tasks := p.GroupTasks(g)
	row := gridRow{Task: g, Group: g, Head: true, Open: fold.Open(g), Toggle: fold.Toggle(g), Count: len(tasks), Description: p.Groups[g].Description}
	for i, run := range runs {
		c := gridCell{RunID: run.ID, Logical: run.LogicalDate, State: groupState(tasks, byRun[i])}
		c.Has = c.State != ""
		row.Cells = append(row.Cells, c)
	}
	return row
}

func runDuration(r *store.Run, now time.Time) time.Duration {
	if r.StartedAt == nil {
		return 0
	}
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(*r.StartedAt)
}

func (w *Web) gridPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadGrid(r.Context(), r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "grid", w.newView(r, d.SP.ID, "pipelines", d))
}

func (w *Web) gridLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadGrid(r.Context(), r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "grid-live", w.newView(r, "", "", d))
}

// Graph.

type graphData struct {
	*pipelineHead
	Run     *store.Run
	Runs    []*store.Run
	Pinned  bool
	Graph   *graphView
	Version *pipeline.Pipeline
	// Fold is which task groups show open; Groups lists them all.
	Fold   *groupFold
	Groups []groupChip
}

func (w *Web) loadGraph(ctx context.Context, r *http.Request, id string) (*graphData, error) {
	head, err := w.loadHead(ctx, id, "graph")
	if err != nil {
		return nil, err
	}
	d := &graphData{pipelineHead: head}
	if d.Runs, err = w.st.RunList(ctx, &store.RunListParams{PipelineID: id, Limit: gridRuns}); err != nil {
		return nil, err
	}
	if s := r.URL.Query().Get("run"); s != "" {
		runID, _ := strconv.ParseInt(s, 10, 64)
		run, err := w.st.RunGet(ctx, runID)
		if err != nil {
			return nil, err
		}
		if run.PipelineID != id {
			return nil, sluice.Errorf(sluice.ENOTFOUND, "run %d is not a run of %s", runID, id)
		}
		d.Run, d.Pinned = run, true
	} else if len(d.Runs) > 0 {
		d.Run = d.Runs[0]
	}
	d.Version = head.P
	instances := map[string]*store.Instance{}
	var runID int64
	if d.Run != nil {
		runID = d.Run.ID
		if d.Version, err = w.versionOf(ctx, d.Run.VersionID); err != nil {
			return nil, err
		}
		ins, err := w.st.InstanceSelect(ctx, &store.InstanceSelectParams{RunIDs: []int64{d.Run.ID}, Which: store.NoItems})
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			instances[in.TaskID] = in
		}
	}
	d.Fold = foldOf(r, "/pipelines/"+id+"/graph")
	d.Graph = buildGraph(d.Version, instances, runID, d.Fold)
	d.Groups = groupChips(d.Version, instances, runID, d.Fold)
	if d.Pinned {
		d.Fingerprint, err = w.runFingerprint(ctx, d.Run.ID, time.Time{})
	} else {
		d.Fingerprint, err = w.pipelineFingerprint(ctx, id)
	}
	return d, err
}

func (w *Web) graphPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadGraph(r.Context(), r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "graph", w.newView(r, d.SP.ID+" · graph", "pipelines", d))
}

func (w *Web) graphLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadGraph(r.Context(), r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "graph-live", w.newView(r, "", "", d))
}

// Code.

type codeData struct {
	*pipelineHead
	Versions []*store.Version
	Version  *store.Version
	Lines    []string
	From, To int64
	Diff     []diffLine
	Same     bool
}

type diffLine struct {
	Kind, Text string
}

func (w *Web) codePage(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	head, err := w.loadHead(ctx, id, "code")
	if err != nil {
		return err
	}
	d := &codeData{pipelineHead: head}
	if d.Versions, err = w.st.VersionList(ctx, id); err != nil {
		return err
	}
	q := r.URL.Query()
	d.From, _ = strconv.ParseInt(q.Get("from"), 10, 64)
	d.To, _ = strconv.ParseInt(q.Get("to"), 10, 64)
	if d.From != 0 && d.To != 0 {
		diff, err := w.ctl.Diff(ctx, id, d.From, d.To)
		if err != nil {
			return err
		}
		d.Same = diff == ""
		for _, l := range strings.SplitAfter(diff, "\n") {
			if l == "" {
				continue
			}
			l = strings.TrimSuffix(l, "\n")
			kind := "ctx"
			switch {
			case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
				kind = "file"
			case strings.HasPrefix(l, "@@"):
				kind = "hunk"
			case strings.HasPrefix(l, "+"):
				kind = "add"
			case strings.HasPrefix(l, "-"):
				kind = "del"
			}
			d.Diff = append(d.Diff, diffLine{kind, l})
		}
	}
	vid, _ := strconv.ParseInt(q.Get("version"), 10, 64)
	if vid == 0 {
		vid = head.SP.VersionID
		if vid == 0 && len(d.Versions) > 0 {
			vid = d.Versions[0].ID
		}
	}
	if vid != 0 {
		v, err := w.st.VersionGet(ctx, vid)
		if err != nil {
			return err
		}
		if v.PipelineID != id {
			return sluice.Errorf(sluice.ENOTFOUND, "version %d is not a version of %s", vid, id)
		}
		d.Version = v
		d.Lines = strings.Split(strings.TrimSuffix(v.Source, "\n"), "\n")
	}
	if d.From == 0 && len(d.Versions) > 1 {
		d.From = d.Versions[1].ID
	}
	if d.To == 0 && len(d.Versions) > 0 {
		d.To = d.Versions[0].ID
	}
	return w.render(rw, http.StatusOK, "code", w.newView(r, id+" · code", "pipelines", d))
}

// Runs.

type runsData struct {
	*pipelineHead
	Runs []*store.Run
	// Before is the run id the page lists runs before; 0 for the newest.
	// Older is the Before of the next page; 0 when there is none.
	Before, Older int64
}

const runsPage = 50

func (w *Web) loadRuns(ctx context.Context, r *http.Request, id string) (*runsData, error) {
	head, err := w.loadHead(ctx, id, "runs")
	if err != nil {
		return nil, err
	}
	d := &runsData{pipelineHead: head}
	d.Before, _ = strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	runs, err := w.st.RunList(ctx, &store.RunListParams{PipelineID: id, BeforeID: d.Before, Limit: runsPage + 1})
	if err != nil {
		return nil, err
	}
	if len(runs) > runsPage {
		runs = runs[:runsPage]
		d.Older = runs[len(runs)-1].ID
	}
	d.Runs = runs
	if d.Before == 0 {
		d.Fingerprint, err = w.pipelineFingerprint(ctx, id)
	}
	return d, err
}

func (w *Web) runsPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadRuns(r.Context(), r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "runs", w.newView(r, d.SP.ID+" · runs", "pipelines", d))
}

func (w *Web) runsLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadRuns(r.Context(), r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "runs-live", w.newView(r, "", "", d))
}

// Delete.

type deleteData struct {
	*pipelineHead
	Confirm, Problem string
	// AndFile asks to delete the pipeline's file too.
	AndFile bool
}

func (w *Web) deletePage(rw http.ResponseWriter, r *http.Request) error {
	head, err := w.loadHead(r.Context(), r.PathValue("id"), "delete")
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "delete", w.newView(r, "Delete "+head.SP.ID, "pipelines", &deleteData{pipelineHead: head}))
}

func (w *Web) deletePost(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	head, err := w.loadHead(ctx, id, "delete")
	if err != nil {
		return err
	}
	d := &deleteData{pipelineHead: head, Confirm: r.PostFormValue("confirm"), AndFile: r.PostFormValue("and_file") == "true"}
	st := http.StatusUnprocessableEntity
	if d.Confirm != id {
		d.Problem = fmt.Sprintf("Type the pipeline id %q exactly to confirm.", id)
	} else if err := w.ctl.Delete(ctx, id, auth.FromContext(ctx).Name, d.AndFile); err != nil {
		if sluice.ErrorCode(err) != sluice.ECONFLICT {
			return err
		}
		d.Problem, st = sluice.ErrorMessage(err), http.StatusConflict
	} else {
		target := "/?notice=" + url.QueryEscape(fmt.Sprintf("Pipeline %s was deleted with all of its runs and logs.", id))
		if isHTMX(r) {
			rw.Header().Set("HX-Redirect", target)
			return nil
		}
		http.Redirect(rw, r, target, http.StatusSeeOther)
		return nil
	}
	return w.render(rw, st, "delete", w.newView(r, "Delete "+id, "pipelines", d))
}
