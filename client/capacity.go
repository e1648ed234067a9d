package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-dev/sluice/api"
)

// CapacityQuery selects a capacity report. Zero values take the server's
// defaults.
type CapacityQuery struct {
	// Days is the window in whole days before today; the server's default
	// is 28, its maximum 366.
	Days int
	// Pipeline limits the report to one pipeline's runs and metrics.
	Pipeline string
	// Thresholds are pipeline.task.metric=value limits to forecast, such
	// as daily_orders.load.rows=5M.
	Thresholds []string
}

// Capacity returns the capacity report: daily trends with forecasts of
// when pools fill, runs overrun their schedule, and volumes pass their
// thresholds.
func (c *Client) Capacity(ctx context.Context, q CapacityQuery) (*api.Capacity, error) {
	v := url.Values{}
	if q.Days > 0 {
		v.Set("days", strconv.Itoa(q.Days))
	}
	if q.Pipeline != "" {
		v.Set("pipeline", q.Pipeline)
	}
	for _, t := range q.Thresholds {
		v.Add("threshold", t)
	}
	return call[api.Capacity](ctx, c, http.MethodGet, "/api/v1/capacity", v, nil)
}
