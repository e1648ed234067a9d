package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

const pipelineColumns = `p.id, COALESCE(p.version_id, 0), COALESCE(v.hash, ''), p.file, p.paused, p.schedule,
	p.max_active_runs, p.next_due_at, p.last_scheduled_at, p.parse_error, p.parse_error_at, p.loaded_at, p.created_at, p.missing, p.retention_us,
	p.asset_warnings, p.description, p.tags`

const pipelineFrom = ` FROM pipelines p LEFT JOIN versions v ON v.id = p.version_id`

// scanPipeline scans the pipelineColumns of a row, then extra columns
// into extra.
func scanPipeline(sc interface{ Scan(...any) error }, extra ...any) (*store.Pipeline, error) {
	var (
		p                              store.Pipeline
		paused                         bool
		nextDue, lastSched, parseErrAt sql.NullInt64
		loadedAt, createdAt, retention int64
		tags                           string
	)
	dest := []any{&p.ID, &p.VersionID, &p.Hash, &p.File, &paused, &p.Schedule, &p.MaxActiveRuns,
		&nextDue, &lastSched, &p.ParseError, &parseErrAt, &loadedAt, &createdAt, &p.Missing, &retention,
		&p.AssetWarnings, &p.Description, &tags}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	p.Tags = decodeLabels(tags)
	p.Retention = time.Duration(retention) * time.Microsecond
	p.Paused = paused
	p.NextDueAt = fromNullUS(nextDue)
	p.LastScheduledAt = fromNullUS(lastSched)
	p.ParseErrorAt = fromNullUS(parseErrAt)
	p.LoadedAt = fromUS(loadedAt)
	p.CreatedAt = fromUS(createdAt)
	return &p, nil
}

// PipelineSave implements store.Store.
func (db *DB) PipelineSave(ctx context.Context, p *store.PipelineSaveParams) (*store.PipelineSaveResult, error) {
	if p.MaxActiveRuns < 1 {
		return nil, sluice.Errorf(sluice.EINVALID, "pipeline %q: max_active_runs must be at least 1", p.ID)
	}
	res := &store.PipelineSaveResult{}
	err := db.inTx(ctx, "PipelineSave", func(t *txn) error {
		now := us(t.now)
		if _, err := t.exec(`INSERT INTO pipelines (id, file, schedule, max_active_runs, loaded_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			p.ID, p.File, p.Schedule, p.MaxActiveRuns, now, now, now); err != nil {
			return err
		}
		var live sql.NullInt64
		if err := t.queryRow(`SELECT version_id FROM pipelines WHERE id = ?`+db.d.ForPipeline, p.ID).Scan(&live); err != nil {
			return err
		}
		var vid int64
		err := t.queryRow(`INSERT INTO versions (pipeline_id, hash, source, spec, file, callbacks, max_active_tasks, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, hash) DO NOTHING RETURNING id`,
			p.ID, p.Hash, p.Source, string(p.Spec), p.File, p.Callbacks, p.MaxActiveTasks, now).Scan(&vid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := t.queryRow(`SELECT id FROM versions WHERE pipeline_id = ? AND hash = ?`, p.ID, p.Hash).Scan(&vid); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			res.Created = true
			if err := insertVersionTasks(t, vid, p.Tasks); err != nil {
				return err
			}
		}
		res.VersionID = vid
		res.Changed = !live.Valid || live.Int64 != vid
		// A changed version may change the schedule: make the pipeline due
		// now so a scheduler recomputes its next run from its history.
		_, err = t.exec(`UPDATE pipelines SET version_id = ?, file = ?, schedule = ?, max_active_runs = ?, max_active_tasks = ?,
			retention_us = ?, parse_error = '', parse_error_at = NULL, missing = ?, loaded_at = ?, updated_at = ?,
			next_due_at = CASE WHEN ? = '' THEN NULL WHEN ? THEN ? ELSE next_due_at END,
			description = ?, tags = ?
			WHERE id = ?`,
			vid, p.File, p.Schedule, p.MaxActiveRuns, p.MaxActiveTasks, p.Retention.Microseconds(), false, now, now, p.Schedule, res.Changed, now,
			p.Description, encodeLabels(p.Tags), p.ID)
		if err != nil {
			return err
		}
		if err := savePipelineTags(t, p.ID, p.Tags); err != nil {
			return err
		}
		if res.Changed {
			t.notify(store.TopicPipelines)
		}
		return saveConsumer(t, p)
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return res, nil
}

func insertVersionTasks(t *txn, vid int64, tasks []store.VersionTask) error {
	const chunk = 50
	for start := 0; start < len(tasks); start += chunk {
		part := tasks[start:min(start+chunk, len(tasks))]
		q := `INSERT INTO version_tasks (version_id, task_id, upstream_count, trigger_rule, priority,
			retries, retry_delay_us, retry_exponential, max_retry_delay_us,
			pool, pool_slots, requires, mapped, max_parallel, callbacks, queued_timeout_us, produces, allow_failure) VALUES `
		args := make([]any, 0, len(part)*18)
		for i, vt := range part {
			if i > 0 {
				q += ", "
			}
			q += "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			rule := vt.TriggerRule
			if rule == "" {
				rule = sluice.AllSuccess
			}
			slots := vt.PoolSlots
			if slots < 1 {
				slots = 1
			}
			callbacks := vt.Callbacks &^ store.CallbackProduces
			if len(vt.Produces) > 0 {
				callbacks |= store.CallbackProduces
			}
			args = append(args, vid, vt.TaskID, len(vt.Upstream), string(rule), vt.Priority,
				vt.Retry.Retries, vt.Retry.Delay.Microseconds(), vt.Retry.Exponential, vt.Retry.MaxDelay.Microseconds(),
				vt.Pool, slots, encodeLabels(vt.Requires), vt.Mapped, vt.MaxParallel, callbacks, queuedTimeout(vt.QueuedTimeout), encodeLabels(vt.Produces), vt.AllowFailure)
		}
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
	}
	type edge struct{ up, down string }
	var edges []edge
	for _, vt := range tasks {
		for _, up := range vt.Upstream {
			edges = append(edges, edge{up, vt.TaskID})
		}
	}
	for start := 0; start < len(edges); start += 100 {
		part := edges[start:min(start+100, len(edges))]
		q := `INSERT INTO version_edges (version_id, upstream, downstream) VALUES `
		args := make([]any, 0, len(part)*3)
		for i, e := range part {
			if i > 0 {
				q += ", "
			}
			q += "(?, ?, ?)"
			args = append(args, vid, e.up, e.down)
		}
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
	}
	t.grew("version_edges", int64(len(edges)))
	return nil
}

// PipelineSetError implements store.Store.
func (db *DB) PipelineSetError(ctx context.Context, p *store.PipelineSetErrorParams) error {
	return dbErr(db.inTx(ctx, "PipelineSetError", func(t *txn) error {
		now := us(t.now)
		// A pipeline that never parsed still gets a row, so its error shows.
		if _, err := t.exec(`INSERT INTO pipelines (id, file, loaded_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, p.ID, p.File, now, now, now); err != nil {
			return err
		}
		_, err := t.exec(`UPDATE pipelines SET parse_error = ?, parse_error_at = ?, file = ?, updated_at = ? WHERE id = ?`,
			p.Error, now, p.File, now, p.ID)
		t.notify(store.TopicPipelines)
		return err
	}))
}

// PipelineGet implements store.Store.
func (db *DB) PipelineGet(ctx context.Context, id string) (*store.Pipeline, error) {
	p, err := scanPipeline(db.readRow(ctx, db.q(`SELECT `+pipelineColumns+pipelineFrom+` WHERE p.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", id)
	}
	return p, dbErr(err)
}

// PipelineList implements store.Store.
func (db *DB) PipelineList(ctx context.Context) ([]*store.Pipeline, error) {
	return db.listPipelines(ctx, `SELECT `+pipelineColumns+pipelineFrom+` ORDER BY p.id`)
}

// PipelineListDue implements store.Store.
func (db *DB) PipelineListDue(ctx context.Context, now time.Time) ([]*store.Pipeline, error) {
	return db.listPipelines(ctx, `SELECT `+pipelineColumns+pipelineFrom+`
		WHERE p.next_due_at IS NOT NULL AND p.next_due_at <= ? AND p.paused = ? AND p.missing = ? AND p.version_id IS NOT NULL
		ORDER BY p.next_due_at, p.id`, us(now), false, false)
}

func (db *DB) listPipelines(ctx context.Context, query string, args ...any) ([]*store.Pipeline, error) {
	rows, err := db.read(ctx, db.q(query), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Pipeline
	for rows.Next() {
		p, err := scanPipeline(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, p)
	}
	return out, dbErr(rows.Err())
}

// PipelineSetPaused implements store.Store.
func (db *DB) PipelineSetPaused(ctx context.Context, id string, paused bool) error {
	return dbErr(db.inTx(ctx, "PipelineSetPaused", func(t *txn) error {
		now := us(t.now)
		// Unpausing makes the pipeline due now so its schedule is
		// recomputed from its history rather than from when it was paused.
		res, err := t.exec(`UPDATE pipelines SET paused = ?, updated_at = ?,
			next_due_at = CASE WHEN schedule = '' THEN NULL WHEN ? THEN next_due_at ELSE ? END
			WHERE id = ?`, paused, now, paused, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", id)
		}
		t.notify(store.TopicPipelines)
		return nil
	}))
}

// PipelineNextDue implements store.Store.
func (db *DB) PipelineNextDue(ctx context.Context, now time.Time) (*time.Time, error) {
	var next sql.NullInt64
	err := db.readRow(ctx, db.q(`SELECT min(next_due_at) FROM pipelines
		WHERE next_due_at IS NOT NULL AND next_due_at > ? AND paused = ? AND missing = ? AND version_id IS NOT NULL`), us(now), false, false).Scan(&next)
	if err != nil || !next.Valid {
		return nil, dbErr(err)
	}
	t := fromUS(next.Int64)
	return &t, nil
}

// PipelineSetNextDue implements store.Store.
func (db *DB) PipelineSetNextDue(ctx context.Context, id string, next *time.Time) error {
	return dbErr(db.inTx(ctx, "PipelineSetNextDue", func(t *txn) error {
		_, err := t.exec(`UPDATE pipelines SET next_due_at = ? WHERE id = ?`, usPtr(next), id)
		return err
	}))
}

// VersionGet implements store.Store.
func (db *DB) VersionGet(ctx context.Context, id int64) (*store.Version, error) {
	var (
		v         store.Version
		spec      string
		createdAt int64
	)
	err := db.readRow(ctx, db.q(`SELECT id, pipeline_id, hash, source, spec, file, created_at FROM versions WHERE id = ?`), id).
		Scan(&v.ID, &v.PipelineID, &v.Hash, &v.Source, &spec, &v.File, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "version %d not found", id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	v.Spec = []byte(spec)
	v.CreatedAt = fromUS(createdAt)
	return &v, nil
}

// encodeLabels stores a label set as ",a,b," (sorted), or "" for none, so
// that a claim can test it against a worker's labels with REPLACE.
func encodeLabels(labels []string) string {
	if len(labels) == 0 {
		return ""
	}
	sorted := slices.Clone(labels)
	slices.Sort(sorted)
	return "," + strings.Join(slices.Compact(sorted), ",") + ","
}

func queuedTimeout(d time.Duration) int64 {
	if d <= 0 {
		d = DefaultQueuedTimeout
	}
	return d.Microseconds()
}
