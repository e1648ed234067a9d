package bench

import (
	"slices"
	"time"
)

// Latency is the spread of one kind of delay in a scenario, in
// milliseconds.
type Latency struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// spread returns the percentiles of ds (nil for none). The p-th
// percentile is the value at index n·p/100 of the sorted delays, as the
// other scenarios' hops.
func spread(ds []time.Duration) *Latency {
	if len(ds) == 0 {
		return nil
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	at := func(p int) float64 { return ms(ds[min(len(ds)-1, len(ds)*p/100)]) }
	return &Latency{N: len(ds), P50Ms: at(50), P95Ms: at(95), P99Ms: at(99), MaxMs: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// setHops copies a latency into the hop figures every scenario reports.
func (r *Result) setHops(l *Latency) {
	if l == nil {
		return
	}
	r.Hops, r.HopP50Ms, r.HopP99Ms, r.HopMaxMs = l.N, l.P50Ms, l.P99Ms, l.MaxMs
}
