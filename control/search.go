package control

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
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
