// Package capacitytest writes synthetic run history into a store, for the
// tests and screenshots of capacity planning: weeks of runs of a few
// pipelines whose run times, pool use and reported volumes grow at known
// rates, made through the store's own API (runs created, instances
// claimed and completed) with a clock the caller controls, so that every
// row is what a real server would have written.
package capacitytest

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// The scenario: two pools and three pipelines.
//
//   - daily_orders (03:00 daily): extract 5m; transform in warehouse with
//     2 slots, 40m growing 36s a day; load in warehouse, 20m growing 24s
//     a day, reporting metric.rows, 1.2M growing 25k a day.
//   - events (every 2 hours): ingest in warehouse, 60m growing 72s a day,
//     so its p95 reaches its 2h interval about 50 days after the start;
//     reports metric.events, 50k growing 1k a day.
//   - ml_features (@every 6h): train in gpu, about 90m, flat.
var Pipelines = map[string]string{
	"daily_orders": `id: daily_orders
description: Load yesterday's orders into the warehouse
schedule: "0 3 * * *"
tasks:
  extract:
    run: ./extract.sh
  transform:
    depends_on: [extract]
    run: ./transform.sh
    pool: warehouse
    pool_slots: 2
  load:
    depends_on: [transform]
    run: ./load.sh
    pool: warehouse
`,
	"events": `id: events
description: Ingest the event stream
schedule: "0 */2 * * *"
tasks:
  ingest:
    run: ./ingest.sh
    pool: warehouse
`,
	"ml_features": `id: ml_features
description: Train the feature model
schedule: "@every 6h"
tasks:
  train:
    run: ./train.sh
    pool: gpu
`,
}

// Pools are the scenario's pools and their slots.
var Pools = map[string]int{"warehouse": 4, "gpu": 2}

// Options configure Seed.
type Options struct {
	// Days of history; default 30.
	Days int
	// End is when the history ends: runs are scheduled before it (the
	// last ones may finish after). Default the UTC midnight of today.
	End time.Time
	// Seed seeds the noise; the same seed gives the same history.
	Seed uint64
}

// task models one task: its run time on day n of the history, and the
// metrics it reports.
type task struct {
	base, growth time.Duration
	noise        float64
	metric       string
	metricBase   float64
	metricGrowth float64
}

var model = map[string]map[string]task{
	"daily_orders": {
		"extract":   {base: 5 * time.Minute, noise: 0.05},
		"transform": {base: 40 * time.Minute, growth: 36 * time.Second, noise: 0.04},
		"load":      {base: 20 * time.Minute, growth: 24 * time.Second, noise: 0.04, metric: "rows", metricBase: 1.2e6, metricGrowth: 25e3},
	},
	"events": {
		"ingest": {base: 60 * time.Minute, growth: 72 * time.Second, noise: 0.05, metric: "events", metricBase: 5e4, metricGrowth: 1e3},
	},
	"ml_features": {
		"train": {base: 90 * time.Minute, noise: 0.1},
	},
}

// Seed writes the scenario's history into st, which must tell time by
// clock: it saves the pipelines (paused, so that a server started on the
// store adds no runs of its own), sets the pools, and plays every
// scheduled run of the days before o.End, claiming each task when it is
// ready and completing it when its modelled run time is over. It leaves
// clock at the end of the last attempt.
func Seed(ctx context.Context, st store.Store, clock *sluicetest.Clock, o Options) error {
	if o.Days <= 0 {
		o.Days = 30
	}
	if o.End.IsZero() {
		now := time.Now().UTC()
		o.End = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	}
	start := o.End.AddDate(0, 0, -o.Days)
	clock.Set(start.Add(-time.Hour))
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))

	var q events
	for _, id := range slices.Sorted(maps.Keys(Pipelines)) {
		src := Pipelines[id]
		p, err := pipeline.Parse(id+".yaml", []byte(src))
		if err != nil {
			return fmt.Errorf("capacitytest: %s: %w", id, err)
		}
		if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), "")); err != nil {
			return err
		}
		if err := st.PipelineSetPaused(ctx, id, true); err != nil {
			return err
		}
		sched, err := pipeline.ParseSchedule(p.Schedule)
		if err != nil {
			return err
		}
		for t := sched.Next(start.Add(-time.Second)); t.Before(o.End); t = sched.Next(t) {
			heap.Push(&q, &event{at: t, pipeline: id})
		}
	}
	for name, slots := range Pools {
		if err := st.PoolSet(ctx, &store.Pool{Name: name, Slots: slots}); err != nil {
			return err
		}
	}

	for q.Len() > 0 {
		e := heap.Pop(&q).(*event)
		clock.Set(e.at)
		if e.claim == nil {
			key := "scheduled__" + e.at.Format(time.RFC3339)
			if _, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: e.pipeline, Key: key, Kind: store.RunScheduled, LogicalDate: e.at}); err != nil {
				return err
			}
		} else {
			res, err := st.AttemptComplete(ctx, []*store.AttemptCompleteParams{{
				Lease: e.claim.Lease, State: sluice.AttemptSuccess, FinishedAt: e.at, Outputs: e.outputs,
			}})
			if err != nil {
				return err
			}
			if res[0] != nil {
				return fmt.Errorf("capacitytest: complete %s/%s: %w", e.claim.PipelineID, e.claim.TaskID, res[0])
			}
		}
		claims, err := st.InstanceClaim(ctx, &store.InstanceClaimParams{Worker: "capacitytest", Limit: 100, LeaseDuration: 7 * 24 * time.Hour})
		if err != nil {
			return err
		}
		for _, c := range claims {
			m := model[c.PipelineID][c.TaskID]
			n := c.StartedAt.Sub(start).Hours() / 24
			d := float64(m.base) + float64(m.growth)*n
			d *= 1 + m.noise*(rng.Float64()*2-1)
			var outputs map[string]string
			if m.metric != "" {
				v := (m.metricBase + m.metricGrowth*n) * (1 + 0.03*(rng.Float64()*2-1))
				outputs = map[string]string{store.MetricPrefix + m.metric: strconv.FormatInt(int64(v), 10)}
			}
			heap.Push(&q, &event{at: c.StartedAt.Add(time.Duration(d)).Round(time.Second), claim: c, outputs: outputs})
		}
	}
	return nil
}

// event is a run to create (claim nil) or an attempt to complete.
type event struct {
	at       time.Time
	pipeline string
	claim    *store.Claim
	outputs  map[string]string
	seq      int
}

// events is a queue of events by time, then by order of arrival.
type events struct {
	items []*event
	n     int
}

func (q *events) Len() int { return len(q.items) }
func (q *events) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}
func (q *events) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *events) Push(x any) {
	e := x.(*event)
	e.seq = q.n
	q.n++
	q.items = append(q.items, e)
}
func (q *events) Pop() any {
	e := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return e
}

// SeedDir seeds the SQLite store of a data directory (a server's --home)
// that no process holds, with a clock of its own, and closes it: a server
// started on the directory afterwards shows the history.
func SeedDir(ctx context.Context, dir string, o Options) error {
	clock := sluicetest.NewClock(time.Now())
	st, err := sqlite.Open(ctx, dir, sqlite.Options{Clock: clock})
	if err != nil {
		return err
	}
	if err := Seed(ctx, st, clock, o); err != nil {
		st.Close()
		return err
	}
	return st.Close()
}
