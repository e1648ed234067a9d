package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
)

// TaskInstanceRow is a task instance in a list across runs and
// pipelines: what it is, where it ran, and how it went.
type TaskInstanceRow struct {
	ID       int64  `json:"id"`
	Pipeline string `json:"pipeline"`
	Run      int64  `json:"run"`
	Task     string `json:"task"`
	// MapIndex is the item's index for an item of a mapped task; null
	// for a task.
	MapIndex        *int       `json:"map_index" doc:"the item's index for an item of a mapped task (pass it as ?item= to the task's routes); null for a task"`
	Item            *string    `json:"item" doc:"that item; null for a task"`
	State           string     `json:"state" enum:"pending,queued,up_for_retry,up_for_reschedule,running,success,failed,upstream_failed,skipped,cancelled"`
	Attempts        int        `json:"attempts"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
	LogicalDate     time.Time  `json:"logical_date" doc:"the logical date of its run"`
	RunState        string     `json:"run_state" enum:"queued,running,success,failed,cancelled"`
}

// TaskInstanceList is one page of task instances, newest first.
type TaskInstanceList struct {
	TaskInstances []TaskInstanceRow `json:"task_instances"`
	// NextBefore is the before= value of the next page; null on the last.
	NextBefore *int64 `json:"next_before" doc:"pass as before= for the next page; null on the last page"`
}

// The query parameters that the lists across pipelines share.
var (
	tagQuery   = QueryParam{Name: "tag", Type: "string", Repeated: true, Doc: "only those of pipelines with any of these tags (repeat, or separate with commas)"}
	sinceQuery = QueryParam{Name: "since", Type: "string", Doc: "only runs with a logical date at or after this: a time ago (12h, 7d), a date (2026-12-04, UTC) or an RFC 3339 time"}
	untilQuery = QueryParam{Name: "until", Type: "string", Doc: "only runs with a logical date before this, written as since"}
	// browseQuery are the query parameters of GET /api/v1/task-instances
	// but state.
	browseQuery = []QueryParam{
		{Name: "pipeline", Type: "string", Doc: "only those of this pipeline"},
		tagQuery, sinceQuery, untilQuery,
		{Name: "before", Type: "integer", Doc: "only those with smaller ids: the next_before of the previous page"},
		{Name: "limit", Type: "integer", Doc: "page size, default 50, at most 500"},
	}
)

// listPage is the query the lists across pipelines share: the tags,
// the logical-date range, and the page (before=, limit=).
type listPage struct {
	tags         []string
	since, until *time.Time
	before       int64
	// limit is the page size; fetch asks the store for one more, which
	// tells whether there is a next page.
	limit, fetch int
}

// readListPage reads a listPage from r's query, dates against the
// server's clock.
func (a *API) readListPage(r *http.Request) (*listPage, error) {
	q := r.URL.Query()
	lp := &listPage{tags: control.Tags(q["tag"])}
	var err error
	if lp.since, lp.until, err = a.dateRange(r); err != nil {
		return nil, err
	}
	if lp.before, err = queryInt(q.Get("before"), "before", 0); err != nil {
		return nil, err
	}
	limit, err := queryInt(q.Get("limit"), "limit", defaultRunLimit)
	if err != nil {
		return nil, err
	}
	lp.limit = int(min(limit, MaxRunLimit))
	lp.fetch = lp.limit + 1
	return lp, nil
}

// dateRange reads since= and until= against the server's clock.
func (a *API) dateRange(r *http.Request) (since, until *time.Time, err error) {
	now := a.clock.Now()
	q := r.URL.Query()
	if since, err = control.ParseTimeBound("since", q.Get("since"), now, time.UTC); err != nil {
		return nil, nil, err
	}
	if until, err = control.ParseTimeBound("until", q.Get("until"), now, time.UTC); err != nil {
		return nil, nil, err
	}
	return since, until, nil
}

func (a *API) listTaskInstances(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	states, err := control.ParseInstanceStates(q["state"])
	if err != nil {
		return err
	}
	lp, err := a.readListPage(r)
	if err != nil {
		return err
	}
	limit := lp.limit
	p := &store.InstanceBrowseParams{PipelineID: q.Get("pipeline"), States: states, Tags: lp.tags,
		Since: lp.since, Until: lp.until, BeforeID: lp.before, Limit: lp.fetch}
	list, err := a.st.InstanceBrowse(r.Context(), p)
	if err != nil {
		return err
	}
	out := TaskInstanceList{TaskInstances: []TaskInstanceRow{}}
	if len(list) > int(limit) {
		list = list[:limit]
		next := list[len(list)-1].ID
		out.NextBefore = &next
	}
	now := a.clock.Now()
	for _, in := range list {
		row := TaskInstanceRow{ID: in.ID, Pipeline: in.PipelineID, Run: in.RunID, Task: in.TaskID, Item: in.Item, State: string(in.State),
			Attempts: in.Attempts, StartedAt: utcPtr(in.StartedAt), FinishedAt: utcPtr(in.FinishedAt), DurationSeconds: seconds(in.StartedAt, in.FinishedAt, now),
			LogicalDate: utc(in.LogicalDate), RunState: string(in.RunState)}
		if in.MapIndex >= 0 {
			row.MapIndex = &in.MapIndex
		}
		out.TaskInstances = append(out.TaskInstances, row)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
