package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// JobAcquire implements store.Retention.
func (db *DB) JobAcquire(ctx context.Context, p *store.JobAcquireParams) (bool, error) {
	var got bool
	err := db.inTx(ctx, "JobAcquire", func(t *txn) error {
		now := us(t.now)
		if _, err := t.exec(`INSERT INTO jobs (name, config) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET config = CASE WHEN excluded.config = '' THEN jobs.config ELSE excluded.config END`,
			p.Name, p.Config); err != nil {
			return err
		}
		res, err := t.exec(`UPDATE jobs SET holder = ?, lease_expires_at = ?
			WHERE name = ? AND (lease_expires_at < ? OR holder = ?) AND last_done_at <= ?`,
			p.Holder, now+p.Lease.Microseconds(), p.Name, now, p.Holder, now-p.Every.Microseconds())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		got = n == 1
		return err
	})
	return got, dbErr(err)
}

// JobRenew implements store.Retention.
func (db *DB) JobRenew(ctx context.Context, name, holder string, lease time.Duration) (bool, error) {
	var held bool
	err := db.inTx(ctx, "JobRenew", func(t *txn) error {
		now := us(t.now)
		res, err := t.exec(`UPDATE jobs SET lease_expires_at = ? WHERE name = ? AND holder = ? AND lease_expires_at >= ?`,
			now+lease.Microseconds(), name, holder, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = n == 1
		return err
	})
	return held, dbErr(err)
}

// JobDone implements store.Retention.
func (db *DB) JobDone(ctx context.Context, name, holder, result string) error {
	return dbErr(db.inTx(ctx, "JobDone", func(t *txn) error {
		_, err := t.exec(`UPDATE jobs SET last_done_at = ?, last_result = ?, lease_expires_at = 0 WHERE name = ? AND holder = ?`,
			us(t.now), result, name, holder)
		return err
	}))
}

// JobGet implements store.Retention.
func (db *DB) JobGet(ctx context.Context, name string) (*store.Job, error) {
	j := &store.Job{Name: name}
	var done int64
	err := db.readRow(ctx, db.q(`SELECT holder, last_done_at, last_result, config FROM jobs WHERE name = ?`), name).Scan(&j.Holder, &done, &j.LastResult, &j.Config)
	if errors.Is(err, sql.ErrNoRows) {
		return j, nil
	}
	if err != nil {
		return nil, dbErr(err)
	}
	if done > 0 {
		j.LastDoneAt = fromUS(done)
	}
	return j, nil
}

// finishedStates are the states of runs retention may prune.
const finishedStates = `('success', 'failed', 'cancelled')`

// cutoffs returns each pipeline's retention and cutoff, leaving out those
// that keep their runs forever.
func (db *DB) cutoffs(ctx context.Context, p *store.RetentionParams, now time.Time) ([]*store.PrunePipeline, error) {
	query, args := `SELECT id, retention_us FROM pipelines ORDER BY id`, []any{}
	if p.PipelineID != "" {
		query, args = `SELECT id, retention_us FROM pipelines WHERE id = ?`, []any{p.PipelineID}
	}
	rows, err := db.read(ctx, db.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.PrunePipeline
	for rows.Next() {
		var (
			pp  store.PrunePipeline
			ret int64
		)
		if err := rows.Scan(&pp.ID, &ret); err != nil {
			return nil, err
		}
		pp.Retention = time.Duration(ret) * time.Microsecond
		if pp.Retention <= 0 {
			pp.Retention = p.Default
		}
		if pp.Retention <= 0 {
			continue // kept forever
		}
		pp.Cutoff = now.Add(-pp.Retention)
		out = append(out, &pp)
	}
	return out, rows.Err()
}

// RetentionPrune implements store.Retention. The runs to delete are found
// per pipeline through the index on (pipeline_id, finished_at), oldest
// first, so each batch reads only what it deletes; the deletion is one
// short transaction that deletes the runs' attempts (and their log
// chunks), and the runs, whose cascade removes their instances, outputs
// and callbacks.
func (db *DB) RetentionPrune(ctx context.Context, p *store.RetentionParams) (*store.PruneResult, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = 100
	}
	now := db.now()
	pipes, err := db.cutoffs(ctx, p, now)
	if err != nil {
		return nil, dbErr(err)
	}
	res := &store.PruneResult{Rows: map[string]int64{}}
	var ids []int64
	for _, pp := range pipes {
		if len(ids) >= batch {
			res.More = true
			break
		}
		want := batch - len(ids)
		got, err := db.readIDs(ctx, `SELECT id FROM runs WHERE pipeline_id = ? AND finished_at IS NOT NULL AND finished_at < ?
			AND state IN `+finishedStates+` ORDER BY finished_at LIMIT ?`, pp.ID, us(pp.Cutoff), want+1)
		if err != nil {
			return nil, dbErr(err)
		}
		if len(got) > want {
			got, res.More = got[:want], true
		}
		if len(got) > 0 {
			pp.Runs = int64(len(got))
			res.Pipelines = append(res.Pipelines, pp)
			ids = append(ids, got...)
		}
	}
	err = db.inTx(ctx, "RetentionPrune", func(t *txn) error {
		clear(res.Rows)
		res.LogBytes = 0
		for _, part := range chunks(sortedIDs(ids), maxBatch) {
			part = padIDs(part)
			in := `(` + placeholders(len(part)) + `)`
			args := int64Args(part)
			if err := countInto(t.queryRow, res, in, args); err != nil {
				return err
			}
			// Checked again under the transaction: a run cleared meanwhile
			// is running again and stays. The runs are locked first, so
			// none is cleared between the deletion of its attempts and
			// its own.
			if t.db.d.ForUpdate != "" {
				if _, err := t.exec(`SELECT COUNT(*) FROM (SELECT id FROM runs WHERE id IN `+in+` AND state IN `+finishedStates+` ORDER BY id`+t.db.d.ForUpdate+`) AS locked`, args...); err != nil {
					return err
				}
			}
			if err := deleteAttempts(t, `run_id IN (SELECT id FROM runs WHERE id IN `+in+` AND state IN `+finishedStates+`)`, args...); err != nil {
				return err
			}
			r, err := t.exec(`DELETE FROM runs WHERE id IN `+in+` AND state IN `+finishedStates, args...)
			if err != nil {
				return err
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Rows["runs"] += n
		}
		nowUS := us(t.now)
		r, err := t.exec(`DELETE FROM sessions WHERE expires_at < ?`, nowUS)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		res.Rows["sessions"] += n
		if _, err := t.exec(`DELETE FROM login_failures WHERE at < ?`, us(t.now.Add(-24*time.Hour))); err != nil {
			return err
		}
		if p.Default <= 0 {
			return nil
		}
		if p.PipelineID == "" {
			pruned, more, err := pruneAssetEvents(t, t.now.Add(-p.Default))
			if err != nil {
				return err
			}
			res.Rows["asset_events"] += pruned
			res.More = res.More || more
		}
		// Backfills whose runs are all gone.
		_, err = t.exec(`DELETE FROM backfills WHERE state <> 'running' AND created_at < ?
			AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.backfill_id = backfills.id)`, us(t.now.Add(-p.Default)))
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return res, nil
}

// countInto adds the rows that deleting the runs in in would cascade to.
// row runs a query for one row.
type rowFunc func(query string, args ...any) *sql.Row

func countInto(row rowFunc, res *store.PruneResult, in string, args []any) error {
	var instances, attempts, chunks, bytes, outputs, callbacks int64
	if err := row(`SELECT COUNT(*) FROM task_instances WHERE run_id IN `+in, args...).Scan(&instances); err != nil {
		return err
	}
	if err := row(`SELECT COUNT(*) FROM task_instances ti JOIN attempts a ON a.instance_id = ti.id WHERE ti.run_id IN `+in, args...).Scan(&attempts); err != nil {
		return err
	}
	if err := row(`SELECT COUNT(*), COALESCE(SUM(LENGTH(l.data)), 0) FROM task_instances ti JOIN attempts a ON a.instance_id = ti.id
		JOIN log_chunks l ON l.attempt_id = a.id WHERE ti.run_id IN `+in, args...).Scan(&chunks, &bytes); err != nil {
		return err
	}
	if err := row(`SELECT COUNT(*) FROM outputs o JOIN task_instances ti ON ti.id = o.instance_id
		WHERE ti.run_id IN `+in, args...).Scan(&outputs); err != nil {
		return err
	}
	if err := row(`SELECT COUNT(*) FROM callbacks WHERE run_id IN `+in, args...).Scan(&callbacks); err != nil {
		return err
	}
	res.Rows["instances"] += instances
	res.Rows["attempts"] += attempts
	res.Rows["log_chunks"] += chunks
	res.Rows["outputs"] += outputs
	res.Rows["callbacks"] += callbacks
	res.LogBytes += bytes
	return nil
}

// RetentionPreview implements store.Retention.
func (db *DB) RetentionPreview(ctx context.Context, p *store.RetentionParams) (*store.PruneResult, error) {
	pipes, err := db.cutoffs(ctx, p, db.now())
	if err != nil {
		return nil, dbErr(err)
	}
	res := &store.PruneResult{Rows: map[string]int64{}}
	for _, pp := range pipes {
		var (
			n      int64
			oldest sql.NullInt64
		)
		where := ` FROM runs WHERE pipeline_id = ? AND finished_at IS NOT NULL AND finished_at < ? AND state IN ` + finishedStates
		args := []any{pp.ID, us(pp.Cutoff)}
		if err := db.readRow(ctx, db.q(`SELECT COUNT(*), MIN(finished_at)`+where), args...).Scan(&n, &oldest); err != nil {
			return nil, dbErr(err)
		}
		if n == 0 {
			continue
		}
		pp.Runs, pp.Oldest = n, fromNullUS(oldest)
		res.Pipelines = append(res.Pipelines, pp)
		res.Rows["runs"] += n
		in := `(SELECT id` + where + `)`
		read := func(query string, args ...any) *sql.Row { return db.readRow(ctx, db.q(query), args...) }
		if err := countInto(read, res, in, args); err != nil {
			return nil, dbErr(err)
		}
	}
	var sessions int64
	if err := db.readRow(ctx, db.q(`SELECT COUNT(*) FROM sessions WHERE expires_at < ?`), us(db.now())).Scan(&sessions); err != nil {
		return nil, dbErr(err)
	}
	res.Rows["sessions"] = sessions
	if p.Default > 0 && p.PipelineID == "" {
		n, err := db.countAssetPrune(ctx, db.now().Add(-p.Default))
		if err != nil {
			return nil, dbErr(err)
		}
		res.Rows["asset_events"] = n
	}
	return res, nil
}

// readIDs reads a column of ids on the read pool.
func (db *DB) readIDs(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := db.read(ctx, db.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

var _ store.Retention = (*DB)(nil)

// vacuumTables are the tables whose rows are updated or deleted often:
// every state change of a task writes a new row version.
var vacuumTables = []string{"task_instances", "attempts", "runs", "log_chunks", "outputs", "callbacks", "workers", "jobs", "sessions", "login_failures"}

// RetentionVacuum implements store.Retention. PostgreSQL with autovacuum
// off keeps every dead row version until someone vacuums: a table of a
// few thousand live rows grows without bound. sluice cannot turn
// autovacuum on (that is the server's configuration), so the retention
// job vacuums the busy tables itself.
func (db *DB) RetentionVacuum(ctx context.Context) (string, error) {
	if db.d.Name != "postgres" {
		return "", nil
	}
	var on string
	if err := db.w.QueryRowContext(ctx, `SELECT current_setting('autovacuum')`).Scan(&on); err != nil {
		return "", dbErr(err)
	}
	if on != "off" {
		return "", nil
	}
	start := db.clock.Now()
	for _, t := range vacuumTables {
		// VACUUM cannot run in a transaction; each is its own statement.
		if _, err := db.w.ExecContext(ctx, `VACUUM (ANALYZE) `+t); err != nil {
			return "", dbErr(fmt.Errorf("vacuum %s: %w", t, err))
		}
	}
	return fmt.Sprintf("vacuumed %d tables in %s (autovacuum is off)", len(vacuumTables), db.clock.Now().Sub(start).Round(time.Millisecond)), nil
}
