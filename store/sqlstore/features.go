package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// InstanceExpand implements store.Features.
func (db *DB) InstanceExpand(ctx context.Context, p *store.InstanceExpandParams) error {
	return dbErr(db.inTx(ctx, "InstanceExpand", func(t *txn) error {
		now := us(t.now)
		var instanceID int64
		err := t.queryRow(`UPDATE attempts SET state = 'success', finished_at = ?, error = ?
			WHERE id = ? AND token = ? AND state = 'running' RETURNING instance_id`,
			now, fmt.Sprintf("expanded into %d items", len(p.Items)), p.Lease.AttemptID, p.Lease.Token).Scan(&instanceID)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		f := newFinisher(t)
		if len(p.Items) == 0 {
			// Like Airflow: a task mapped over nothing is skipped.
			if err := f.finish([]int64{instanceID}, sluice.InstanceSkipped); err != nil {
				return err
			}
			return f.done()
		}
		var runID int64
		if err := t.queryRow(`UPDATE task_instances SET items_total = ?, items_success = 0, items_failed = 0, items_skipped = 0, updated_at = ?
			WHERE id = ? RETURNING run_id`, len(p.Items), now, instanceID).Scan(&runID); err != nil {
			return err
		}
		for start := 0; start < len(p.Items); start += maxBatch {
			part := p.Items[start:min(start+maxBatch, len(p.Items))]
			var q strings.Builder
			args := make([]any, 0, len(part)*2+3)
			args = append(args, now, now) // ready_at, updated_at come first in the text
			for i, item := range part {
				if i > 0 {
					q.WriteString(" UNION ALL ")
				}
				q.WriteString(`SELECT CAST(? AS INTEGER) AS idx, CAST(? AS TEXT) AS item`)
				args = append(args, start+i, item)
			}
			args = append(args, instanceID)
			if _, err := t.exec(`INSERT INTO task_instances (run_id, task_id, map_index, parent_id, item, pipeline_id, state, priority, ready_at,
					retries, retry_delay_us, retry_exponential, max_retry_delay_us, trigger_rule, up_total,
					pool, pool_slots, requires, limited, mapped, max_parallel, callbacks, queued_timeout_us, allow_failure, updated_at)
				SELECT p.run_id, p.task_id, i.idx, p.id, i.item, p.pipeline_id, 'queued', p.priority, CAST(? AS BIGINT),
					p.retries, p.retry_delay_us, p.retry_exponential, p.max_retry_delay_us, 'all_success', 0,
					p.pool, p.pool_slots, p.requires,
					(p.pool <> '' OR p.max_parallel > 0 OR pl.max_active_tasks > 0),
					FALSE, p.max_parallel, p.callbacks, p.queued_timeout_us, p.allow_failure, CAST(? AS BIGINT)
				FROM (`+q.String()+`) AS i
				JOIN task_instances p ON p.id = ?
				JOIN pipelines pl ON pl.id = p.pipeline_id`, args...); err != nil {
				return err
			}
		}
		if _, err := t.exec(`UPDATE runs SET unfinished = unfinished + ? WHERE id = ?`, len(p.Items), runID); err != nil {
			return err
		}
		t.grew("task_instances", int64(len(p.Items)))
		t.notify(store.TopicReady)
		t.notify(store.TopicInstances)
		return nil
	}))
}

// PoolSet implements store.Features.
func (db *DB) PoolSet(ctx context.Context, p *store.Pool) error {
	if p.Slots < 0 {
		return sluice.Errorf(sluice.EINVALID, "pool %q: slots must be 0 or more, not %d", p.Name, p.Slots)
	}
	if !validName(p.Name, 64) {
		return sluice.Errorf(sluice.EINVALID, "pool name %q: use up to 64 letters, digits, _, . and -", p.Name)
	}
	return dbErr(db.inTx(ctx, "PoolSet", func(t *txn) error {
		now := us(t.now)
		_, err := t.exec(`INSERT INTO pools (name, slots, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET slots = excluded.slots, description = excluded.description, updated_at = excluded.updated_at`,
			p.Name, p.Slots, p.Description, now, now)
		// More slots may let waiting instances run.
		t.notify(store.TopicReady)
		return err
	}))
}

// PoolList implements store.Features.
func (db *DB) PoolList(ctx context.Context) ([]*store.Pool, error) {
	rows, err := db.read(ctx, `SELECT p.name, p.slots, p.description,
		COALESCE((SELECT SUM(pool_slots) FROM task_instances WHERE state = 'running' AND pool = p.name), 0),
		(SELECT COUNT(*) FROM task_instances WHERE state IN ('queued', 'up_for_retry', 'up_for_reschedule') AND pool = p.name)
		FROM pools p ORDER BY p.name`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Pool
	for rows.Next() {
		p := &store.Pool{}
		if err := rows.Scan(&p.Name, &p.Slots, &p.Description, &p.Used, &p.Queued); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, p)
	}
	return out, dbErr(rows.Err())
}

// PoolDelete implements store.Features.
func (db *DB) PoolDelete(ctx context.Context, name string) error {
	return dbErr(db.inTx(ctx, "PoolDelete", func(t *txn) error {
		res, err := t.exec(`DELETE FROM pools WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "pool %q not found", name)
		}
		return nil
	}))
}

func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// SecretSet implements store.Features.
func (db *DB) SecretSet(ctx context.Context, name string, ciphertext []byte) error {
	return dbErr(db.inTx(ctx, "SecretSet", func(t *txn) error {
		now := us(t.now)
		_, err := t.exec(`INSERT INTO secrets (name, value, created_at, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, ciphertext, now, now)
		return err
	}))
}

// SecretGet implements store.Features.
func (db *DB) SecretGet(ctx context.Context, names []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(names) == 0 {
		return out, nil
	}
	rows, err := db.read(ctx, db.q(`SELECT name, value FROM secrets WHERE name IN (`+placeholders(len(names))+`)`), stringArgs(names)...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v []byte
		if err := rows.Scan(&name, &v); err != nil {
			return nil, dbErr(err)
		}
		out[name] = v
	}
	return out, dbErr(rows.Err())
}

// SecretList implements store.Features.
func (db *DB) SecretList(ctx context.Context) ([]*store.Secret, error) {
	rows, err := db.read(ctx, `SELECT name, created_at, updated_at FROM secrets ORDER BY name`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Secret
	for rows.Next() {
		s := &store.Secret{}
		var c, u int64
		if err := rows.Scan(&s.Name, &c, &u); err != nil {
			return nil, dbErr(err)
		}
		s.CreatedAt, s.UpdatedAt = fromUS(c), fromUS(u)
		out = append(out, s)
	}
	return out, dbErr(rows.Err())
}

// SecretDelete implements store.Features.
func (db *DB) SecretDelete(ctx context.Context, name string) error {
	return db.deleteNamed(ctx, "secrets", "secret", name)
}

// VariableSet implements store.Features.
func (db *DB) VariableSet(ctx context.Context, name, value string) error {
	return dbErr(db.inTx(ctx, "VariableSet", func(t *txn) error {
		_, err := t.exec(`INSERT INTO variables (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, us(t.now))
		return err
	}))
}

// VariableList implements store.Features.
func (db *DB) VariableList(ctx context.Context) ([]*store.Variable, error) {
	rows, err := db.read(ctx, `SELECT name, value, updated_at FROM variables ORDER BY name`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Variable
	for rows.Next() {
		v := &store.Variable{}
		var u int64
		if err := rows.Scan(&v.Name, &v.Value, &u); err != nil {
			return nil, dbErr(err)
		}
		v.UpdatedAt = fromUS(u)
		out = append(out, v)
	}
	return out, dbErr(rows.Err())
}

// VariableDelete implements store.Features.
func (db *DB) VariableDelete(ctx context.Context, name string) error {
	return db.deleteNamed(ctx, "variables", "variable", name)
}

func (db *DB) deleteNamed(ctx context.Context, table, what, name string) error {
	return dbErr(db.inTx(ctx, what+"Delete", func(t *txn) error {
		res, err := t.exec(`DELETE FROM `+table+` WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "%s %q not found", what, name)
		}
		return nil
	}))
}

// maxCallbackTries bounds how often a callback whose worker died is run.
const maxCallbackTries = 3

// CallbackClaim implements store.Features.
func (db *DB) CallbackClaim(ctx context.Context, p *store.CallbackClaimParams) ([]*store.Callback, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	var out []*store.Callback
	err := db.inTx(ctx, "CallbackClaim", func(t *txn) error {
		out = out[:0]
		now := us(t.now)
		// Callbacks whose worker died more often than allowed give up.
		if _, err := t.exec(`UPDATE callbacks SET state = 'failed', finished_at = ?, error = 'its worker stopped before it finished, too often'
			WHERE state = 'running' AND lease_expires_at < ? AND tries >= ?`, now, now, maxCallbackTries); err != nil {
			return err
		}
		ids, err := t.ids(`SELECT id FROM callbacks WHERE state IN ('pending', 'running')
			AND (state = 'pending' OR lease_expires_at < ?) ORDER BY id LIMIT ?`+db.d.SkipLocked, now, p.Limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, id := range ids {
			c := &store.Callback{ID: id, Token: newToken()}
			if err := t.queryRow(`UPDATE callbacks SET state = 'running', worker = ?, token = ?, lease_expires_at = ?, tries = tries + 1
				WHERE id = ? RETURNING run_id, task_id, map_index, attempt, event, tries`,
				p.Worker, c.Token, us(t.now.Add(p.LeaseDuration)), id).Scan(&c.RunID, &c.TaskID, &c.MapIndex, &c.Attempt, &c.Event, &c.Tries); err != nil {
				return err
			}
			if c.TaskID != "" {
				// By the instance's key and the attempt's number: one row
				// each, however many instances the run has.
				err := t.queryRow(`SELECT a.error FROM task_instances ti JOIN attempts a ON a.instance_id = ti.id
					WHERE ti.run_id = ? AND ti.task_id = ? AND ti.map_index = ? AND a.number = ?`,
					c.RunID, c.TaskID, c.MapIndex, c.Attempt).Scan(&c.AttemptError)
				if err != nil && !errors.Is(err, sql.ErrNoRows) { // a clear removed it
					return err
				}
			}
			out = append(out, c)
		}
		return nil
	})
	return out, dbErr(err)
}

// CallbackComplete implements store.Features.
func (db *DB) CallbackComplete(ctx context.Context, id, token int64, errMsg string) error {
	return dbErr(db.inTx(ctx, "CallbackComplete", func(t *txn) error {
		state := "done"
		if errMsg != "" {
			state = "failed"
		}
		res, err := t.exec(`UPDATE callbacks SET state = ?, error = ?, finished_at = ? WHERE id = ? AND token = ? AND state = 'running'`,
			state, errMsg, us(t.now), id, token)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.ErrLeaseLost
		}
		return nil
	}))
}

// CallbackList implements store.Features.
func (db *DB) CallbackList(ctx context.Context, runID int64) ([]*store.Callback, error) {
	rows, err := db.read(ctx, db.q(`SELECT id, run_id, task_id, map_index, attempt, event, tries, state, error
		FROM callbacks WHERE run_id = ? ORDER BY id`), runID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Callback
	for rows.Next() {
		c := &store.Callback{}
		if err := rows.Scan(&c.ID, &c.RunID, &c.TaskID, &c.MapIndex, &c.Attempt, &c.Event, &c.Tries, &c.State, &c.Error); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, c)
	}
	return out, dbErr(rows.Err())
}
