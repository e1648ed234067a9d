package control

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// PipelineFilter reads the filters of the pipelines list from a query,
// the same for the UI and the API: tag (any of, repeated or
// comma-separated), state (the newest run's state, or "none"), paused
// (true or false) and search (part of the id or description).
func PipelineFilter(q url.Values) (*store.PipelineSearchParams, error) {
	p := &store.PipelineSearchParams{Tags: listValues(q["tag"]), Search: strings.TrimSpace(q.Get("search"))}
	for _, s := range listValues(q["state"]) {
		state := sluice.RunState(s)
		if state != store.NoRuns && !slices.Contains(sluice.RunStates, state) {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "state %q: want the state of the last run: queued, running, success, failed, cancelled, or none for no runs", s)
		}
		p.LastStates = append(p.LastStates, state)
	}
	switch v := q.Get("paused"); v {
	case "", "any":
	default:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "paused %q: want true or false", v)
		}
		p.Paused = &b
	}
	return p, nil
}

// ParseRunStates reads run states from repeated or comma-separated query
// values.
func ParseRunStates(values []string) ([]sluice.RunState, error) {
	var out []sluice.RunState
	for _, s := range listValues(values) {
		state := sluice.RunState(s)
		if !slices.Contains(sluice.RunStates, state) {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "state %q: want queued, running, success, failed or cancelled", s)
		}
		out = append(out, state)
	}
	return out, nil
}

// listValues splits repeated, comma-separated values, without blanks or
// repeats.
func listValues(values []string) []string {
	var out []string
	for _, v := range values {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// instanceStates are the task instance states, for checking a filter.
var instanceStates = []sluice.InstanceState{
	sluice.InstancePending, sluice.InstanceQueued, sluice.InstanceUpForRetry, sluice.InstanceUpForReschedule, sluice.InstanceRunning,
	sluice.InstanceSuccess, sluice.InstanceFailed, sluice.InstanceUpstreamFailed, sluice.InstanceSkipped, sluice.InstanceCancelled,
}

// ParseInstanceStates reads task instance states from repeated or
// comma-separated query values.
func ParseInstanceStates(values []string) ([]sluice.InstanceState, error) {
	var out []sluice.InstanceState
	for _, s := range listValues(values) {
		state := sluice.InstanceState(s)
		if !slices.Contains(instanceStates, state) {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "state %q: want pending, queued, up_for_retry, up_for_reschedule, running, success, failed, upstream_failed, skipped or cancelled", s)
		}
		out = append(out, state)
	}
	return out, nil
}

// Tags reads tags from repeated or comma-separated query values.
func Tags(values []string) []string { return listValues(values) }

// ParseTimeBound reads a bound of a date range, such as since= or
// until=: a time ago ("12h", "7d", "90m"), an RFC 3339 time
// ("2026-12-04T20:00:00Z"), or a date ("2026-12-04", midnight) or a time
// without an offset ("2026-12-04T20:00") in loc: the API reads them in
// UTC, the UI in the reader's zone. Empty is no bound (nil).
func ParseTimeBound(name, s string, now time.Time, loc *time.Location) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := pipeline.ParseDuration(s); err == nil {
		t := now.Add(-d.D())
		return &t, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return &t, nil
		}
	}
	return nil, sluice.Errorf(sluice.EBADREQUEST, "%s=%q: want a time ago such as 12h or 7d, a date such as 2026-12-04, or an RFC 3339 time such as 2026-12-04T20:00:00Z", name, s)
}
