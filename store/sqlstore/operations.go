package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// PipelineDelete implements store.Store.
func (db *DB) PipelineDelete(ctx context.Context, id string) error {
	return dbErr(db.inTx(ctx, "PipelineDelete", func(t *txn) error {
		var one int
		err := t.queryRow(`SELECT 1 FROM pipelines WHERE id = ?`+db.d.ForUpdate, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", id)
		}
		if err != nil {
			return err
		}
		// Runs first: their attempts (and the attempts' logs) by hand,
		// their instances, outputs and callbacks with them by cascade;
		// then the pipeline, and its versions with it.
		if err := deleteAttempts(t, `run_id IN (SELECT id FROM runs WHERE pipeline_id = ?)`, id); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM runs WHERE pipeline_id = ?`, id); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM pipelines WHERE id = ?`, id); err != nil {
			return err
		}
		t.notify(store.TopicPipelines)
		t.notify(store.TopicRuns)
		t.notify(store.TopicLeases)
		return nil
	}))
}

// deleteAttempts deletes the attempts of the task instances where selects
// (a condition on task_instances), and their log chunks with them, before
// the instances themselves are deleted.
//
// On PostgreSQL attempts have no foreign key to their instance, so no
// cascade: its check was a query and a row lock on every claim (migration
// 00020). The instances are locked first, in id order: a claim that
// updated one of them has committed by then, and its attempt is deleted
// here; a later claim skips the locked rows. On SQLite the foreign key
// stays, and one writer at a time makes the lock unnecessary.
func deleteAttempts(t *txn, where string, args ...any) error {
	if t.db.d.ForUpdate != "" {
		if _, err := t.exec(`SELECT COUNT(*) FROM (SELECT id FROM task_instances WHERE `+where+` ORDER BY id`+t.db.d.ForUpdate+`) AS locked`, args...); err != nil {
			return err
		}
	}
	_, err := t.exec(`DELETE FROM attempts WHERE instance_id IN (SELECT id FROM task_instances WHERE `+where+`)`, args...)
	return err
}

// VersionList implements store.Store.
func (db *DB) VersionList(ctx context.Context, pipelineID string) ([]*store.Version, error) {
	rows, err := db.read(ctx, db.q(`SELECT id, pipeline_id, hash, file, created_at FROM versions WHERE pipeline_id = ? ORDER BY id DESC`), pipelineID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Version
	for rows.Next() {
		v := &store.Version{}
		var created int64
		if err := rows.Scan(&v.ID, &v.PipelineID, &v.Hash, &v.File, &created); err != nil {
			return nil, dbErr(err)
		}
		v.CreatedAt = fromUS(created)
		out = append(out, v)
	}
	return out, dbErr(rows.Err())
}

// RunListRecent implements store.Store.
func (db *DB) RunListRecent(ctx context.Context, perPipeline int) (map[string][]*store.Run, error) {
	ids, err := db.pipelineIDs(ctx)
	if err != nil {
		return nil, err
	}
	return db.recentRuns(ctx, ids, perPipeline, runColumns, scanRun)
}

func (db *DB) pipelineIDs(ctx context.Context) ([]string, error) {
	rows, err := db.read(ctx, `SELECT id FROM pipelines ORDER BY id`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbErr(err)
		}
		ids = append(ids, id)
	}
	return ids, dbErr(rows.Err())
}

// RunCancel implements store.Store.
func (db *DB) RunCancel(ctx context.Context, id int64) error {
	return dbErr(db.inTx(ctx, "RunCancel", func(t *txn) error {
		now := us(t.now)
		// Locks in the usual order: attempts, instances, the run.
		if _, err := t.exec(`UPDATE attempts SET state = 'cancelled', finished_at = ?, error = 'run cancelled'
			WHERE run_id = ? AND state = 'running'`, now, id); err != nil {
			return err
		}
		var state, pipelineID, kind string
		err := t.queryRow(`SELECT state, pipeline_id, kind FROM runs WHERE id = ?`+db.d.ForUpdate, id).Scan(&state, &pipelineID, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "run %d not found", id)
		}
		if err != nil {
			return err
		}
		if sluice.RunState(state).Finished() {
			return sluice.Errorf(sluice.ECONFLICT, "run %d already finished (%s): nothing to cancel", id, state)
		}
		if _, err := t.exec(`UPDATE task_instances SET state = 'cancelled', finished_at = ?, updated_at = ?
			WHERE run_id = ? AND state IN `+unfinishedStates, now, now, id); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE runs SET state = 'cancelled', finished_at = ?, unfinished = 0 WHERE id = ?`, now, id); err != nil {
			return err
		}
		t.runEvent(pipelineID, kind, sluice.RunCancelled)
		t.notify(store.TopicRuns)
		t.notify(store.TopicInstances)
		t.notify(store.TopicLeases)
		var maxActive int
		if err := t.queryRow(`SELECT max_active_runs FROM pipelines WHERE id = ?`+db.d.ForPipeline, pipelineID).Scan(&maxActive); err != nil {
			return err
		}
		_, err = startQueued(t, pipelineID, maxActive)
		return err
	}))
}

// RunRetryFailed implements store.Store.
func (db *DB) RunRetryFailed(ctx context.Context, id int64) (int, error) {
	var n int
	err := db.inTx(ctx, "RunRetryFailed", func(t *txn) error {
		var state string
		var versionID int64
		err := t.queryRow(`SELECT state, version_id FROM runs WHERE id = ?`, id).Scan(&state, &versionID)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "run %d not found", id)
		}
		if err != nil {
			return err
		}
		if sluice.RunState(state) == sluice.RunQueued {
			return sluice.Errorf(sluice.ECONFLICT, "run %d has not started yet", id)
		}
		ids, err := t.ids(`SELECT id FROM task_instances WHERE run_id = ? AND state IN ('failed', 'upstream_failed')`, id)
		if err != nil || len(ids) == 0 {
			return err
		}
		n = len(ids)
		return reset(t, id, versionID, ids, "retried by hand")
	})
	return n, dbErr(err)
}

// InstanceGet implements store.Store.
func (db *DB) InstanceGet(ctx context.Context, runID int64, taskID string) (*store.Instance, error) {
	ins, err := db.listInstances(ctx, `WHERE run_id = ? AND task_id = ? AND map_index = -1`, runID, taskID)
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "task %q not found in run %d", taskID, runID)
	}
	return ins[0], nil
}

// InstanceClear implements store.Store.
func (db *DB) InstanceClear(ctx context.Context, runID int64, taskID string) error {
	return dbErr(db.inTx(ctx, "InstanceClear", func(t *txn) error {
		var (
			id        int64
			state     string
			versionID int64
		)
		err := t.queryRow(`SELECT ti.id, ti.state, r.version_id FROM task_instances ti JOIN runs r ON r.id = ti.run_id
			WHERE ti.run_id = ? AND ti.task_id = ? AND ti.map_index = -1`, runID, taskID).Scan(&id, &state, &versionID)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "task %q not found in run %d", taskID, runID)
		}
		if err != nil {
			return err
		}
		if !sluice.InstanceState(state).Finished() {
			return sluice.Errorf(sluice.ECONFLICT, "task %q of run %d is %s: clear it when it has finished", taskID, runID, state)
		}
		down, err := descendants(t, runID, versionID, taskID)
		if err != nil {
			return err
		}
		return reset(t, runID, versionID, append(down, id), "cleared by hand")
	}))
}

// InstanceMark implements store.Store.
func (db *DB) InstanceMark(ctx context.Context, runID int64, taskID string, to sluice.InstanceState) error {
	_, err := db.InstanceMarkSet(ctx, &store.MarkParams{Selection: store.Selection{RunID: runID, TaskIDs: []string{taskID}}, State: to})
	return err
}

// settleFinishedRun recomputes the final state of a finished run after one
// of its instances changed by hand.
func settleFinishedRun(t *txn, runID int64) error {
	_, err := t.exec(`UPDATE runs SET state = CASE WHEN EXISTS (
			SELECT 1 FROM task_instances WHERE run_id = ? AND state IN ('failed', 'upstream_failed') AND NOT allow_failure) THEN 'failed' ELSE 'success' END
		WHERE id = ? AND state IN ('success', 'failed') AND unfinished = 0`, runID, runID)
	t.notify(store.TopicRuns)
	return err
}

// reset makes instances of a run pending again with fresh retries, stops
// their running attempts, recounts their upstream and queues those that
// may run; the run is running again.
func reset(t *txn, runID, versionID int64, ids []int64, why string) error {
	now := us(t.now)
	ids = sortedIDs(ids)
	wasFinal := 0
	for _, part := range chunks(ids, maxBatch) {
		part = padIDs(part)
		in := placeholders(len(part))
		if _, err := t.exec(`UPDATE attempts SET state = 'cancelled', finished_at = ?, error = ?
			WHERE instance_id IN (`+in+`) AND state = 'running'`, append([]any{now, why}, int64Args(part)...)...); err != nil {
			return err
		}
	}
	// The items of a mapped task go: it expands again when it runs.
	for _, part := range chunks(ids, maxBatch) {
		in := placeholders(len(part))
		n, err := t.count(`SELECT COUNT(*) FROM task_instances WHERE parent_id IN (`+in+`) AND state IN `+unfinishedStates, int64Args(part)...)
		if err != nil {
			return err
		}
		if err := deleteAttempts(t, `parent_id IN (`+in+`)`, int64Args(part)...); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM task_instances WHERE parent_id IN (`+in+`)`, int64Args(part)...); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE runs SET unfinished = unfinished - ? WHERE id = ?`, n, runID); err != nil {
			return err
		}
	}
	for _, part := range chunks(ids, maxBatch) {
		n, err := t.count(`SELECT COUNT(*) FROM task_instances WHERE id IN (`+placeholders(len(part))+`) AND state NOT IN `+unfinishedStates, int64Args(part)...)
		if err != nil {
			return err
		}
		wasFinal += n
		padded := padIDs(part)
		in := placeholders(len(padded))
		if _, err := t.exec(`UPDATE task_instances SET state = 'pending', failures = 0, ready_at = NULL, started_at = NULL,
			finished_at = NULL, note = '', items_total = 0, items_success = 0, items_failed = 0, items_skipped = 0, updated_at = ?
			WHERE id IN (`+in+`)`, append([]any{now}, int64Args(padded)...)...); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM outputs WHERE instance_id IN (`+in+`)`, int64Args(padded)...); err != nil {
			return err
		}
	}
	if _, err := t.exec(`UPDATE runs SET state = 'running', finished_at = NULL, unfinished = unfinished + ? WHERE id = ?`, wasFinal, runID); err != nil {
		return err
	}
	if err := recount(t, versionID, ids); err != nil {
		return err
	}
	t.notify(store.TopicRuns)
	t.notify(store.TopicInstances)
	t.notify(store.TopicLeases)
	f := newFinisher(t)
	if err := f.decide(ids); err != nil {
		return err
	}
	return f.done()
}

// recount sets the upstream counters of instances from the states of
// their upstream instances.
func recount(t *txn, versionID int64, ids []int64) error {
	for _, part := range chunks(sortedIDs(ids), maxBatch) {
		part = padIDs(part)
		count := func(states string) string {
			return `(SELECT COUNT(*) FROM version_edges e JOIN task_instances u ON u.run_id = task_instances.run_id AND u.task_id = e.upstream
				WHERE e.version_id = ? AND e.downstream = task_instances.task_id AND u.state IN ` + states + `)`
		}
		allowed := func(allow bool) string {
			if allow {
				return " AND u.allow_failure"
			}
			return " AND NOT u.allow_failure"
		}
		args := []any{versionID, versionID, versionID, versionID, versionID}
		args = append(args, int64Args(part)...)
		if _, err := t.exec(`UPDATE task_instances SET
			up_success = `+count("('success')")+`,
			up_failed = `+count("('failed')"+allowed(false))+`,
			up_allowed_failed = `+count("('failed')"+allowed(true))+`,
			up_upstream_failed = `+count("('upstream_failed')")+`,
			up_skipped = `+count("('skipped')")+`
			WHERE id IN (`+placeholders(len(part))+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// descendants returns the ids of the instances of a run downstream of a
// task, at any depth.
func descendants(t *txn, runID, versionID int64, taskID string) ([]int64, error) {
	down, err := versionEdges(t, versionID)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{taskID: true}
	walk(set, down)
	delete(set, taskID)
	tasks := make([]string, 0, len(set))
	for id := range set {
		tasks = append(tasks, id)
	}
	slices.Sort(tasks)
	var ids []int64
	for _, part := range chunks(tasks, maxBatch) {
		args := append([]any{runID}, stringArgs(part)...)
		got, err := t.ids(`SELECT id FROM task_instances WHERE run_id = ? AND map_index = -1 AND task_id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ids runs a query of one integer column.
func (t *txn) ids(query string, args ...any) ([]int64, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// count runs a COUNT query.
func (t *txn) count(query string, args ...any) (int, error) {
	var n int
	err := t.queryRow(query, args...).Scan(&n)
	return n, err
}
