package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice/api"
)

// Backfill creates a backfill of a pipeline: one run per logical date of
// its schedule from req.From to req.To. The result counts the runs created
// and the dates skipped. req.DryRun is ignored: use BackfillDates.
func (c *Client) Backfill(ctx context.Context, pipeline string, req api.BackfillRequest) (*api.Backfill, error) {
	req.DryRun = false
	return call[api.Backfill](ctx, c, http.MethodPost, "/api/v1/pipelines/"+esc(pipeline)+"/backfills", nil, req)
}

// BackfillDates returns the logical dates a backfill of req would create
// runs for, and creates nothing.
func (c *Client) BackfillDates(ctx context.Context, pipeline string, req api.BackfillRequest) (*api.BackfillDates, error) {
	req.DryRun = true
	return call[api.BackfillDates](ctx, c, http.MethodPost, "/api/v1/pipelines/"+esc(pipeline)+"/backfills", nil, req)
}

// ListBackfills returns a pipeline's backfills, newest first.
func (c *Client) ListBackfills(ctx context.Context, pipeline string) ([]api.Backfill, error) {
	return list[api.Backfill](ctx, c, "/api/v1/pipelines/"+esc(pipeline)+"/backfills")
}

func backfillPath(id int64) string { return "/api/v1/backfills/" + strconv.FormatInt(id, 10) }

// GetBackfill returns a backfill with the count of its runs by state.
func (c *Client) GetBackfill(ctx context.Context, id int64) (*api.Backfill, error) {
	return call[api.Backfill](ctx, c, http.MethodGet, backfillPath(id), nil, nil)
}

// CancelBackfill cancels a backfill's queued and running runs; its
// finished runs stay as they are.
func (c *Client) CancelBackfill(ctx context.Context, id int64) (*api.Backfill, error) {
	return call[api.Backfill](ctx, c, http.MethodPost, backfillPath(id)+"/cancel", nil, nil)
}
