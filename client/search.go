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
