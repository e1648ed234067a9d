package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

const runColumns = `id, pipeline_id, version_id, key, kind, logical_date, params, state, created_at, started_at, finished_at, parent_run_id, parent_task`

func scanRun(sc interface{ Scan(...any) error }) (*store.Run, error) {
	var (
		r                   store.Run
		kind, state, params string
		logical, created    int64
		started, finished   sql.NullInt64
	)
	var parent sql.NullInt64
	if err := sc.Scan(&r.ID, &r.PipelineID, &r.VersionID, &r.Key, &kind, &logical, &params, &state, &created, &started, &finished, &parent, &r.ParentTask); err != nil {
		return nil, err
	}
	if parent.Valid {
		r.ParentRunID = &parent.Int64
	}
	r.Kind = store.RunKind(kind)
	r.State = sluice.RunState(state)
	r.Params = []byte(params)
	r.LogicalDate = fromUS(logical)
	r.CreatedAt = fromUS(created)
	r.StartedAt = fromNullUS(started)
	r.FinishedAt = fromNullUS(finished)
	return &r, nil
}

// RunCreate implements store.Store.
func (db *DB) RunCreate(ctx context.Context, p *store.RunCreateParams) (*store.Run, bool, error) {
	params, err := checkRunCreate(p)
	if err != nil {
		return nil, false, err
	}
	var (
		run     *store.Run
		created bool
	)
	err = db.inTx(ctx, "RunCreate", func(t *txn) error {
		var err error
		run, created, err = createRun(t, p, params)
		return err
	})
	if err != nil {
		return nil, false, dbErr(err)
	}
	return run, created, nil
}

// RunCreateScheduled implements store.Store. The pipelines are taken in
// the order of their ids, so that two schedulers locking the same rows
// (PostgreSQL) lock them in the same order.
func (db *DB) RunCreateScheduled(ctx context.Context, batch []*store.ScheduledRuns) ([][]store.RunCreated, error) {
	params := make([][][]byte, len(batch))
	for i, b := range batch {
		for _, p := range b.Runs {
			raw, err := checkRunCreate(p)
			if err != nil {
				return nil, err
			}
			params[i] = append(params[i], raw)
		}
	}
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(batch[a].PipelineID, batch[b].PipelineID) })
	out := make([][]store.RunCreated, len(batch))
	err := db.inTx(ctx, "RunCreateScheduled", func(t *txn) error {
		for _, i := range order {
			out[i] = nil // a retried transaction starts again
			for j, p := range batch[i].Runs {
				run, created, err := createRun(t, p, params[i][j])
				if err != nil {
					return err
				}
				out[i] = append(out[i], store.RunCreated{Run: run, Created: created})
			}
			if _, err := t.exec(`UPDATE pipelines SET next_due_at = ? WHERE id = ?`, usPtr(batch[i].NextDue), batch[i].PipelineID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return out, nil
}

// checkRunCreate checks the arguments of a run's creation and returns its
// params, {} when none are given.
func checkRunCreate(p *store.RunCreateParams) ([]byte, error) {
	if p.Key == "" {
		return nil, sluice.Errorf(sluice.EINVALID, "run key is empty")
	}
	if e := p.Event; e != nil && (e.Source == "" || e.Key == "" || len(e.Source) > store.MaxEventKeyLen || len(e.Key) > store.MaxEventKeyLen) {
		return nil, sluice.Errorf(sluice.EINVALID, "trigger event source and key must be 1 to %d bytes long", store.MaxEventKeyLen)
	}
	if len(p.Params) == 0 {
		return []byte("{}"), nil
	}
	return p.Params, nil
}

// createRun is RunCreate inside the caller's transaction.
func createRun(t *txn, p *store.RunCreateParams, params []byte) (run *store.Run, created bool, err error) {
	db := t.db
	err = func() error {
		var (
			live      sql.NullInt64
			maxActive int
		)
		err := t.queryRow(`SELECT version_id, max_active_runs FROM pipelines WHERE id = ?`+db.d.ForPipeline, p.PipelineID).Scan(&live, &maxActive)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", p.PipelineID)
		}
		if err != nil {
			return err
		}
		vid := p.VersionID
		if vid == 0 {
			if !live.Valid {
				return sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version to run: fix its file first", p.PipelineID)
			}
			vid = live.Int64
		}
		var eventID int64
		if e := p.Event; e != nil {
			// The event first: when it was seen before, its run is the
			// answer. A racing copy waits here on the unique key until the
			// first commits, then finds its row.
			err := t.queryRow(`INSERT INTO trigger_events (pipeline_id, source, key, received_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (pipeline_id, source, key) DO NOTHING RETURNING id`, p.PipelineID, e.Source, e.Key, us(t.now)).Scan(&eventID)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				var runID int64
				if err := t.queryRow(`SELECT run_id FROM trigger_events WHERE pipeline_id = ? AND source = ? AND key = ?`,
					p.PipelineID, e.Source, e.Key).Scan(&runID); err != nil {
					return err
				}
				run, err = scanRun(t.queryRow(`SELECT `+runColumns+` FROM runs WHERE id = ?`, runID))
				return err
			case err != nil:
				return err
			}
		}
		var id int64
		var parent any
		if p.ParentRunID != 0 {
			parent = p.ParentRunID
		}
		err = t.queryRow(`INSERT INTO runs (pipeline_id, version_id, key, kind, logical_date, params, state, created_at, parent_run_id, parent_task, callbacks)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT callbacks FROM versions WHERE id = ?)) ON CONFLICT (pipeline_id, key) DO NOTHING RETURNING id`,
			p.PipelineID, vid, p.Key, string(p.Kind), us(p.LogicalDate), string(params), string(sluice.RunQueued), us(t.now),
			parent, p.ParentTask, vid).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Already created, by us before a crash or by another scheduler.
			run, err = scanRun(t.queryRow(`SELECT `+runColumns+` FROM runs WHERE pipeline_id = ? AND key = ?`, p.PipelineID, p.Key))
			if err == nil && eventID != 0 {
				_, err = t.exec(`UPDATE trigger_events SET run_id = ? WHERE id = ?`, run.ID, eventID)
			}
			return err
		case err != nil:
			return err
		}
		created = true
		if eventID != 0 {
			if _, err := t.exec(`UPDATE trigger_events SET run_id = ? WHERE id = ?`, id, eventID); err != nil {
				return err
			}
		}
		if p.Kind == store.RunScheduled {
			if _, err := t.exec(`UPDATE pipelines SET last_scheduled_at = ? WHERE id = ? AND (last_scheduled_at IS NULL OR last_scheduled_at < ?)`,
				us(p.LogicalDate), p.PipelineID, us(p.LogicalDate)); err != nil {
				return err
			}
		}
		t.notify(store.TopicRuns)
		if _, err := startQueued(t, p.PipelineID, maxActive); err != nil {
			return err
		}
		run, err = scanRun(t.queryRow(`SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
		return err
	}()
	return run, created, err
}

// RunStartQueued implements store.Store.
func (db *DB) RunStartQueued(ctx context.Context, pipelineID string) (int, error) {
	var n int
	err := db.inTx(ctx, "RunStartQueued", func(t *txn) error {
		var maxActive int
		err := t.queryRow(`SELECT max_active_runs FROM pipelines WHERE id = ?`+db.d.ForPipeline, pipelineID).Scan(&maxActive)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", pipelineID)
		}
		if err != nil {
			return err
		}
		n, err = startQueued(t, pipelineID, maxActive)
		return err
	})
	return n, dbErr(err)
}

// startQueued starts the oldest queued runs of a pipeline while fewer than
// maxActive run. The caller holds the pipeline's row lock, so concurrent
// schedulers cannot both start a run into the same free place.
func startQueued(t *txn, pipelineID string, maxActive int) (int, error) {
	var running int
	if err := t.queryRow(`SELECT COUNT(*) FROM runs WHERE pipeline_id = ? AND state = ?`, pipelineID, string(sluice.RunRunning)).Scan(&running); err != nil {
		return 0, err
	}
	room := maxActive - running
	if room <= 0 {
		return 0, nil
	}
	rows, err := t.query(`SELECT id, version_id FROM runs WHERE pipeline_id = ? AND state = ? ORDER BY logical_date, id LIMIT ?`,
		pipelineID, string(sluice.RunQueued), room)
	if err != nil {
		return 0, err
	}
	type queued struct{ id, vid int64 }
	var todo []queued
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.id, &q.vid); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, q := range todo {
		if err := startRun(t, q.id, q.vid); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// startRun creates the task instances of a run from its version and queues
// those with nothing to wait for.
func startRun(t *txn, runID, versionID int64) error {
	now := us(t.now)
	// A run queued again (a backfill's rerun) has its instances, reset.
	if n, err := t.count(`SELECT COUNT(*) FROM task_instances WHERE run_id = ?`, runID); err != nil {
		return err
	} else if n > 0 {
		existing, err := t.ids(`SELECT id FROM task_instances WHERE run_id = ? AND map_index = -1 AND state = 'pending'`, runID)
		if err != nil {
			return err
		}
		var pipelineID, kind string
		if err := t.queryRow(`UPDATE runs SET state = 'running', started_at = ?, finished_at = NULL WHERE id = ?
			RETURNING pipeline_id, kind`, now, runID).Scan(&pipelineID, &kind); err != nil {
			return err
		}
		t.runEvent(pipelineID, kind, sluice.RunRunning)
		t.notify(store.TopicRuns)
		f := newFinisher(t)
		if err := f.decide(existing); err != nil {
			return err
		}
		return f.done()
	}
	res, err := t.exec(`INSERT INTO task_instances (run_id, task_id, pipeline_id, state, priority, ready_at,
			retries, retry_delay_us, retry_exponential, max_retry_delay_us, trigger_rule, up_total,
			pool, pool_slots, requires, limited, mapped, max_parallel, callbacks, queued_timeout_us, allow_failure, updated_at)
		SELECT CAST(? AS BIGINT), vt.task_id, v.pipeline_id,
			CASE WHEN vt.upstream_count = 0 OR vt.trigger_rule = 'always' THEN 'queued' ELSE 'pending' END,
			vt.priority,
			CASE WHEN vt.upstream_count = 0 OR vt.trigger_rule = 'always' THEN CAST(? AS BIGINT) ELSE NULL END,
			vt.retries, vt.retry_delay_us, vt.retry_exponential, vt.max_retry_delay_us, vt.trigger_rule, vt.upstream_count,
			vt.pool, vt.pool_slots, vt.requires,
			-- a mapped task itself only expands; its items carry the limits
			(NOT vt.mapped AND (vt.pool <> '' OR v.max_active_tasks > 0)),
			vt.mapped, vt.max_parallel, vt.callbacks, vt.queued_timeout_us, vt.allow_failure, CAST(? AS BIGINT)
		FROM version_tasks vt JOIN versions v ON v.id = vt.version_id
		WHERE vt.version_id = ? ORDER BY vt.task_id`,
		runID, now, now, versionID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	t.grew("task_instances", n)
	state := sluice.RunRunning
	var finished any
	if n == 0 {
		state, finished = sluice.RunSuccess, now
	}
	var pipelineID, kind string
	if err := t.queryRow(`UPDATE runs SET state = ?, started_at = ?, finished_at = ?, unfinished = ? WHERE id = ?
		RETURNING pipeline_id, kind`, string(state), now, finished, n, runID).Scan(&pipelineID, &kind); err != nil {
		return err
	}
	t.runEvent(pipelineID, kind, sluice.RunRunning)
	if state != sluice.RunRunning {
		t.runEvent(pipelineID, kind, state)
	}
	t.notify(store.TopicReady)
	t.notify(store.TopicRuns)
	t.notify(store.TopicInstances)
	return nil
}

// RunGet implements store.Store.
func (db *DB) RunGet(ctx context.Context, id int64) (*store.Run, error) {
	r, err := scanRun(db.readRow(ctx, db.q(`SELECT `+runColumns+` FROM runs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "run %d not found", id)
	}
	return r, dbErr(err)
}

// RunList implements store.Store.
func (db *DB) RunList(ctx context.Context, p *store.RunListParams) ([]*store.Run, error) {
	var (
		where []string
		args  []any
	)
	if p.PipelineID != "" {
		where = append(where, "pipeline_id = ?")
		args = append(args, p.PipelineID)
	}
	if len(p.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(p.States))+")")
		for _, s := range p.States {
			args = append(args, string(s))
		}
	}
	if p.LogicalDate != nil {
		where = append(where, "logical_date = ?")
		args = append(args, us(*p.LogicalDate))
	}
	if p.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, p.BeforeID)
	}
	where, args = browseFilters(where, args, "pipeline_id", "logical_date", p.Tags, p.Since, p.Until)
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := db.read(ctx, db.q(q), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, r)
	}
	return out, dbErr(rows.Err())
}

// RunCountActive implements store.Store.
func (db *DB) RunCountActive(ctx context.Context, pipelineID string) (int, error) {
	var n int
	err := db.readRow(ctx, db.q(`SELECT COUNT(*) FROM runs WHERE pipeline_id = ? AND state IN (?, ?)`),
		pipelineID, string(sluice.RunQueued), string(sluice.RunRunning)).Scan(&n)
	return n, dbErr(err)
}
