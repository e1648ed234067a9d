package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-dev/sluice/api"
)

// RunFilter selects runs for ListRuns. Zero values select everything.
type RunFilter struct {
	Pipeline string
	// States are run states: queued, running, success, failed, cancelled.
	States []string
	// Before returns runs with smaller ids: the NextBefore of the last
	// page.
	Before int64
	// Limit is the page size; the server's default is 50, its maximum 500.
	Limit int
	// Tags keeps runs of pipelines with any of these tags; Since and
	// Until bound the logical date: a time ago ("12h"), a date or an RFC
	// 3339 time.
	Tags         []string
	Since, Until string
}

// ListRuns returns one page of runs, newest first.
func (c *Client) ListRuns(ctx context.Context, f RunFilter) (*api.RunList, error) {
	q := listQuery(f.Pipeline, f.States, f.Before, f.Limit, f.Tags, f.Since, f.Until)
	return call[api.RunList](ctx, c, http.MethodGet, "/api/v1/runs", q, nil)
}

func runPath(run int64) string { return "/api/v1/runs/" + strconv.FormatInt(run, 10) }

// GetRun returns a run with its tasks.
func (c *Client) GetRun(ctx context.Context, run int64) (*api.RunDetail, error) {
	return call[api.RunDetail](ctx, c, http.MethodGet, runPath(run), nil, nil)
}

// Cancel cancels a queued or running run.
func (c *Client) Cancel(ctx context.Context, run int64) (*api.Run, error) {
	return call[api.Run](ctx, c, http.MethodPost, runPath(run)+"/cancel", nil, nil)
}

// Retry runs a run's failed tasks again and returns how many.
func (c *Client) Retry(ctx context.Context, run int64) (int, error) {
	out, err := call[api.RetryResult](ctx, c, http.MethodPost, runPath(run)+"/retry", nil, nil)
	if err != nil {
		return 0, err
	}
	return out.Retried, nil
}

// GetTask returns a task of a run with its attempts and outputs.
func (c *Client) GetTask(ctx context.Context, run int64, task string) (*api.TaskDetail, error) {
	return call[api.TaskDetail](ctx, c, http.MethodGet, runPath(run)+"/tasks/"+esc(task), nil, nil)
}

// Clear runs a finished task again, with everything downstream of it.
func (c *Client) Clear(ctx context.Context, run int64, task string) (*api.TaskInstance, error) {
	return call[api.TaskInstance](ctx, c, http.MethodPost, runPath(run)+"/tasks/"+esc(task)+"/clear", nil, nil)
}

// Mark sets a task's final state by hand: "success" or "failed".
func (c *Client) Mark(ctx context.Context, run int64, task, state string) (*api.TaskInstance, error) {
	return call[api.TaskInstance](ctx, c, http.MethodPost, runPath(run)+"/tasks/"+esc(task)+"/mark", nil, api.MarkRequest{State: state})
}

// GetTaskItem returns one item of a mapped task (for_each) with its
// attempts and outputs; item is its map index, from 0.
func (c *Client) GetTaskItem(ctx context.Context, run int64, task string, item int) (*api.TaskDetail, error) {
	q := url.Values{"item": {strconv.Itoa(item)}}
	return call[api.TaskDetail](ctx, c, http.MethodGet, runPath(run)+"/tasks/"+esc(task), q, nil)
}

// ClearSet clears tasks of a run with options (downstream, upstream, only
// failed, past and future runs); with DryRun it only lists them.
func (c *Client) ClearSet(ctx context.Context, run int64, req api.ClearRequest) (*api.SelectionResult, error) {
	return call[api.SelectionResult](ctx, c, http.MethodPost, runPath(run)+"/clear", nil, req)
}

// MarkSet marks tasks of a run success or failed with options; with
// DryRun it only lists them.
func (c *Client) MarkSet(ctx context.Context, run int64, req api.MarkSetRequest) (*api.SelectionResult, error) {
	return call[api.SelectionResult](ctx, c, http.MethodPost, runPath(run)+"/mark", nil, req)
}
