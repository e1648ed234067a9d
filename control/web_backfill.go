package control

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// BackfillBounds reads the bounds of a backfill as people write them, in
// the pipeline's timezone loc: a date (2026-01-31) is, for from, the
// start of that day and, for to, the whole day; a date and time without a
// zone (2026-01-31T06:00, with or without seconds, T or a space) is a
// time of day there; an RFC 3339 time is taken as it is. An error names
// the wrong field in its Details (map "from"/"to" to a message).
func BackfillBounds(loc *time.Location, from, to string) (time.Time, time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	problems := map[string]string{}
	f, err := backfillBound(loc, from, false)
	if err != nil {
		problems["from"] = err.Error()
	}
	t, err := backfillBound(loc, to, true)
	if err != nil {
		problems["to"] = err.Error()
	}
	if len(problems) == 0 && t.Before(f) {
		problems["to"] = "is before from"
	}
	if len(problems) > 0 {
		var msgs []string
		for _, k := range []string{"from", "to"} {
			if m, ok := problems[k]; ok {
				msgs = append(msgs, k+" "+m)
			}
		}
		return time.Time{}, time.Time{}, &sluice.Error{Code: sluice.EINVALID, Message: "backfill range: " + strings.Join(msgs, "; "), Details: problems}
	}
	return f, t, nil
}

func backfillBound(loc *time.Location, s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, sluice.Errorf(sluice.EINVALID, "is missing: give a date such as 2026-01-31")
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if end {
			// The whole day: up to the next midnight there, which may be
			// 23 or 25 hours later when the clocks change.
			y, m, d := t.Date()
			return time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond), nil
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, sluice.Errorf(sluice.EINVALID, "%q is not a date: write 2026-01-31, 2026-01-31T06:00 or an RFC 3339 time", s)
}

// BackfillWithParams is the request of Control.BackfillWith.
type BackfillWithParams struct {
	PipelineID string
	From, To   time.Time
	// Rerun is store.RerunNone (or empty), RerunFailed or RerunAll.
	Rerun string
	// Params are the runs' params, checked against the pipeline's param
	// types as a trigger's are; nil gives every param its default.
	Params map[string]any
	By     string
}

// BackfillWith is Backfill with params for its runs: it creates the runs
// of a pipeline for the logical dates of its schedule between p.From and
// p.To. Wrong params are an EINVALID error whose Details map each param to
// its problem.
func (c *Control) BackfillWith(ctx context.Context, p *BackfillWithParams) (*store.Backfill, error) {
	dates, err := c.BackfillDates(ctx, p.PipelineID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	_, pl, err := c.Pipeline(ctx, p.PipelineID)
	if err != nil {
		return nil, err
	}
	if pl == nil {
		return nil, sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version", p.PipelineID)
	}
	bound, err := pl.BindParams(p.Params)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(bound)
	if err != nil {
		return nil, err
	}
	b, err := c.st.BackfillCreate(ctx, &store.BackfillCreateParams{PipelineID: p.PipelineID, From: p.From, To: p.To, Dates: dates, Rerun: p.Rerun, Params: raw, By: p.By})
	if err == nil {
		c.logger(ctx).Info("backfill created", "pipeline", p.PipelineID, "backfill", b.ID, "runs", b.Total, "skipped", b.Skipped, "by", p.By)
	}
	return b, err
}
