package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-dev/sluice/api"
)

// PipelineFilter filters the pipelines list; the zero value lists every
// pipeline. A pipeline is listed when it passes every filter given.
type PipelineFilter struct {
	// Tags keeps pipelines with any of these tags.
	Tags []string
	// States keeps pipelines whose last run is in one of these states
	// (queued, running, success, failed, cancelled, or none for no runs).
	States []string
	// Paused keeps paused (true) or active (false) pipelines, when set.
	Paused *bool
	// Search keeps pipelines whose id or description contains it,
	// ignoring case.
	Search string
}

// SearchPipelines returns the pipelines that pass the filter, by id.
func (c *Client) SearchPipelines(ctx context.Context, f PipelineFilter) ([]api.Pipeline, error) {
	q := url.Values{}
	for _, t := range f.Tags {
		q.Add("tag", t)
	}
	for _, s := range f.States {
		q.Add("state", s)
	}
	if f.Paused != nil {
		q.Set("paused", strconv.FormatBool(*f.Paused))
	}
	if f.Search != "" {
		q.Set("search", f.Search)
	}
	out := []api.Pipeline{}
	if err := c.do(ctx, http.MethodGet, "/api/v1/pipelines", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// listQuery is the query of the lists across pipelines (runs, task
// instances): their filters and their page.
func listQuery(pipeline string, states []string, before int64, limit int, tags []string, since, until string) url.Values {
	q := url.Values{}
	if pipeline != "" {
		q.Set("pipeline", pipeline)
	}
	for _, s := range states {
		q.Add("state", s)
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	for _, t := range tags {
		q.Add("tag", t)
	}
	if since != "" {
		q.Set("since", since)
	}
	if until != "" {
		q.Set("until", until)
	}
	return q
}

// TaskInstanceFilter selects task instances across runs and pipelines.
type TaskInstanceFilter struct {
	Pipeline string
	// States are task instance states: failed, running, up_for_retry, …
	States []string
	Tags   []string
	// Since and Until bound the logical date of the run: a time ago
	// ("12h"), a date or an RFC 3339 time.
	Since, Until string
	Before       int64
	Limit        int
}

// ListTaskInstances returns one page of task instances, newest first.
func (c *Client) ListTaskInstances(ctx context.Context, f TaskInstanceFilter) (*api.TaskInstanceList, error) {
	q := listQuery(f.Pipeline, f.States, f.Before, f.Limit, f.Tags, f.Since, f.Until)
	return call[api.TaskInstanceList](ctx, c, http.MethodGet, "/api/v1/task-instances", q, nil)
}
