package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Microseconds in a day and an hour: times are stored as microseconds, so
// a day or hour index is an integer division, the same on both databases.
const (
	usDay  = int64(24 * time.Hour / time.Microsecond)
	usHour = int64(time.Hour / time.Microsecond)
)

// A sample of run durations keeps a run when (id × sampleMultiplier) mod
// sampleModulus is below a threshold: the multiplication scatters runs
// with consecutive ids over the residues, so the sample spreads evenly in
// time, and a prime modulus keeps the ids of one pipeline (an arithmetic
// progression when pipelines interleave) from landing on few residues.
// The product stays within 64 bits for ids below 10^15.
const (
	sampleModulus    = 1009
	sampleMultiplier = 7919
)

// CapacityHistory implements store.Capacity.
func (db *DB) CapacityHistory(ctx context.Context, p *store.CapacityHistoryParams) (*store.CapacityHistory, error) {
	if !p.From.Before(p.To) {
		return nil, sluice.Errorf(sluice.EINVALID, "capacity history: the window %s to %s is empty", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	}
	now := p.Now
	if now.IsZero() || now.After(p.To) {
		now = p.To
	}
	maxDur := p.MaxDurations
	if maxDur <= 0 {
		maxDur = store.DefaultMaxDurations
	}
	h := &store.CapacityHistory{From: p.From.UTC(), To: p.To.UTC()}
	w := capWindow{from: us(p.From), to: us(p.To), now: us(now), pipeline: p.PipelineID}

	var err error
	if h.Oldest, h.PipelineOldest, err = db.capacityOldest(ctx); err != nil {
		return nil, err
	}
	if h.Runs, err = db.capacityRuns(ctx, w); err != nil {
		return nil, err
	}
	if h.Durations, err = db.capacityDurations(ctx, w, maxDur); err != nil {
		return nil, err
	}
	if h.PoolHours, err = db.capacityPools(ctx, w); err != nil {
		return nil, err
	}
	if h.Metrics, err = db.capacityMetrics(ctx, w); err != nil {
		return nil, err
	}
	return h, nil
}

// capacityOldest returns the start of the oldest run stored, overall and
// by pipeline: one index probe (runs_pipeline_started) per pipeline.
func (db *DB) capacityOldest(ctx context.Context) (*time.Time, map[string]time.Time, error) {
	rows, err := db.read(ctx, `SELECT p.id, (SELECT MIN(r.started_at) FROM runs r WHERE r.pipeline_id = p.id AND r.started_at IS NOT NULL) FROM pipelines p`)
	if err != nil {
		return nil, nil, dbErr(err)
	}
	defer rows.Close()
	var oldest *time.Time
	by := map[string]time.Time{}
	for rows.Next() {
		var id string
		var v sql.NullInt64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, nil, dbErr(err)
		}
		if !v.Valid {
			continue
		}
		t := fromUS(v.Int64)
		by[id] = t
		if oldest == nil || t.Before(*oldest) {
			oldest = &t
		}
	}
	return oldest, by, dbErr(rows.Err())
}

// capRuns selects the runs that started in a window (its arguments are
// the window's bounds), driven from the pipelines so that each is one
// range of runs_pipeline_started. The joins are CROSS JOINs with their
// conditions in WHERE because SQLite keeps the order of a CROSS JOIN: its
// planner, without statistics, would otherwise scan a whole table (every
// attempt, every output) and look the window up from it. PostgreSQL
// plans a CROSS JOIN like any other join.
const capRuns = ` FROM pipelines p CROSS JOIN runs r`
const capRunsWhere = ` WHERE r.pipeline_id = p.id AND r.started_at >= ? AND r.started_at < ?`

// capWindow is a window in stored microseconds.
type capWindow struct {
	from, to, now int64
	pipeline      string
}

func (w capWindow) day(n int64) time.Time  { return fromUS(w.from + n*usDay) }
func (w capWindow) hour(n int64) time.Time { return fromUS(w.from + n*usHour) }

// pipelineFilter is the condition (to follow a WHERE) and argument that
// limit pipelines p to the window's pipeline, if it has one.
func (w capWindow) pipelineFilter(args []any) (string, []any) {
	if w.pipeline == "" {
		return "", args
	}
	return ` AND p.id = ?`, append(args, w.pipeline)
}

// capacityRuns counts runs by pipeline and day, in SQL.
func (db *DB) capacityRuns(ctx context.Context, w capWindow) ([]store.RunDay, error) {
	cond, args := w.pipelineFilter([]any{w.from, w.from, w.to})
	rows, err := db.read(ctx, db.q(`SELECT r.pipeline_id, (r.started_at - ?) / `+itoa(usDay)+` AS d, COUNT(*),
		SUM(CASE WHEN r.state = 'success' THEN 1 ELSE 0 END), SUM(CASE WHEN r.state = 'failed' THEN 1 ELSE 0 END)`+capRuns+capRunsWhere+cond+`
		GROUP BY r.pipeline_id, d ORDER BY r.pipeline_id, d`), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []store.RunDay
	for rows.Next() {
		var rd store.RunDay
		var d int64
		if err := rows.Scan(&rd.PipelineID, &d, &rd.Runs, &rd.Succeeded, &rd.Failed); err != nil {
			return nil, dbErr(err)
		}
		rd.Day = w.day(d)
		out = append(out, rd)
	}
	return out, dbErr(rows.Err())
}

// capacityDurations returns the durations of successful runs, sampled
// evenly down to about maxDur per pipeline: percentiles need the values,
// and portable SQL has no percentile function.
func (db *DB) capacityDurations(ctx context.Context, w capWindow, maxDur int) ([]store.RunDuration, error) {
	// c counts each pipeline's successful runs, to sample down to maxDur.
	args := []any{w.from, w.from, w.to}
	cond, args := w.pipelineFilter(args)
	args = append(args, w.from, w.to, maxDur)
	rows, err := db.read(ctx, db.q(`SELECT r.pipeline_id, (r.started_at - ?) / `+itoa(usDay)+`, r.finished_at - r.started_at
		FROM (SELECT r.pipeline_id, COUNT(*) AS n`+capRuns+capRunsWhere+` AND r.state = 'success'`+cond+` GROUP BY r.pipeline_id) c
		CROSS JOIN runs r
		WHERE r.pipeline_id = c.pipeline_id AND r.started_at >= ? AND r.started_at < ? AND r.state = 'success' AND r.finished_at IS NOT NULL
		AND (r.id * `+itoa(sampleMultiplier)+`) % `+itoa(sampleModulus)+` < CAST(? AS BIGINT) * `+itoa(sampleModulus)+` / c.n + 1`), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []store.RunDuration
	for rows.Next() {
		var rd store.RunDuration
		var d, dur int64
		if err := rows.Scan(&rd.PipelineID, &d, &dur); err != nil {
			return nil, dbErr(err)
		}
		rd.Day, rd.Duration = w.day(d), time.Duration(max(dur, 0))*time.Microsecond
		out = append(out, rd)
	}
	return out, dbErr(rows.Err())
}

// capacityPools sums slot use by pool, pipeline and hour. Attempts that
// start and end within one hour are summed in SQL; the few that cross an
// hour boundary (at most the slots in use at each boundary) are split
// here.
func (db *DB) capacityPools(ctx context.Context, w capWindow) ([]store.PoolHour, error) {
	const (
		from = capRuns + ` CROSS JOIN task_instances ti CROSS JOIN attempts a` + capRunsWhere + `
		AND ti.run_id = r.id AND ti.pool <> '' AND a.instance_id = ti.id`
		end       = `COALESCE(a.finished_at, ?)`
		startHour = `(a.started_at - ?) / `
	)
	hour := itoa(usHour)
	look := w.from - int64(store.CapacityLookback/time.Microsecond)
	type key struct {
		pool, pipeline string
		hour           int64
	}
	sums := map[key]int64{} // slot-microseconds

	rows, err := db.read(ctx, db.q(`SELECT ti.pool, r.pipeline_id, `+startHour+hour+` AS h, CAST(SUM(ti.pool_slots * (`+end+` - a.started_at)) AS BIGINT)`+from+`
		AND a.started_at >= ? AND a.started_at < ? AND `+startHour+hour+` = (`+end+` - ?) / `+hour+`
		GROUP BY ti.pool, r.pipeline_id, h`),
		w.from, w.now, look, w.to, w.from, w.to, w.from, w.now, w.from)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		var slotUS int64
		if err := rows.Scan(&k.pool, &k.pipeline, &k.hour, &slotUS); err != nil {
			return nil, dbErr(err)
		}
		sums[k] += slotUS
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	rows.Close()

	rows, err = db.read(ctx, db.q(`SELECT ti.pool, r.pipeline_id, ti.pool_slots, a.started_at, `+end+from+`
		AND a.started_at < ? AND `+end+` > ?
		AND (a.started_at < ? OR `+startHour+hour+` <> (`+end+` - ?) / `+hour+`)`),
		w.now, look, w.to, w.to, w.now, w.from, w.from, w.from, w.now, w.from)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pool, pipeline string
		var slots, start, stop int64
		if err := rows.Scan(&pool, &pipeline, &slots, &start, &stop); err != nil {
			return nil, dbErr(err)
		}
		start, stop = max(start, w.from), min(stop, w.to)
		for t := start; t < stop; {
			h := (t - w.from) / usHour
			next := min(w.from+(h+1)*usHour, stop)
			sums[key{pool, pipeline, h}] += slots * (next - t)
			t = next
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}

	out := make([]store.PoolHour, 0, len(sums))
	for k, slotUS := range sums {
		out = append(out, store.PoolHour{Pool: k.pool, PipelineID: k.pipeline, Hour: w.hour(k.hour), SlotSeconds: float64(slotUS) / 1e6})
	}
	sortPoolHours(out)
	return out, nil
}

// capacityMetrics aggregates the "metric.<name>" outputs of tasks by day.
// Values are text, and a cast of text that is not a number fails on
// PostgreSQL but gives 0 on SQLite, so they are parsed here, one row per
// output of the window, streamed.
func (db *DB) capacityMetrics(ctx context.Context, w capWindow) ([]store.MetricDay, error) {
	cond, args := w.pipelineFilter([]any{w.from, w.from, w.to})
	rows, err := db.read(ctx, db.q(`SELECT r.pipeline_id, ti.task_id, o.key, (r.started_at - ?) / `+itoa(usDay)+`, o.value`+capRuns+`
		CROSS JOIN task_instances ti CROSS JOIN outputs o`+capRunsWhere+`
		AND ti.run_id = r.id AND o.instance_id = ti.id AND substr(o.key, 1, 7) = 'metric.'`+cond), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	type key struct {
		pipeline, task, name string
		day                  int64
	}
	agg := map[key]*store.MetricDay{}
	for rows.Next() {
		var k key
		var name, value string
		if err := rows.Scan(&k.pipeline, &k.task, &name, &k.day, &value); err != nil {
			return nil, dbErr(err)
		}
		k.name = strings.TrimPrefix(name, "metric.")
		m := agg[k]
		if m == nil {
			m = &store.MetricDay{PipelineID: k.pipeline, TaskID: k.task, Name: k.name, Day: w.day(k.day)}
			agg[k] = m
		}
		v, ok := store.MetricValue(value)
		if !ok {
			if m.Invalid == 0 {
				m.Example = value
			}
			m.Invalid++
			continue
		}
		if m.Count == 0 || v < m.Min {
			m.Min = v
		}
		if m.Count == 0 || v > m.Max {
			m.Max = v
		}
		m.Count++
		m.Sum += v
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	out := make([]store.MetricDay, 0, len(agg))
	for _, m := range agg {
		out = append(out, *m)
	}
	sortMetricDays(out)
	return out, nil
}

func sortPoolHours(hs []store.PoolHour) {
	slices.SortFunc(hs, func(a, b store.PoolHour) int {
		return cmp.Or(cmp.Compare(a.Pool, b.Pool), a.Hour.Compare(b.Hour), cmp.Compare(a.PipelineID, b.PipelineID))
	})
}

func sortMetricDays(ms []store.MetricDay) {
	slices.SortFunc(ms, func(a, b store.MetricDay) int {
		return cmp.Or(cmp.Compare(a.PipelineID, b.PipelineID), cmp.Compare(a.TaskID, b.TaskID), cmp.Compare(a.Name, b.Name), a.Day.Compare(b.Day))
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
