package sqlstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// DefaultQueuedTimeout is how long a ready instance that nothing can start
// waits before it fails, unless its task says otherwise.
const DefaultQueuedTimeout = time.Hour

// WorkerUpsert implements store.Lifecycle.
func (db *DB) WorkerUpsert(ctx context.Context, w *store.WorkerInfo) error {
	problems, err := json.Marshal(w.Problems)
	if err != nil {
		return err
	}
	if w.Problems == nil {
		problems = []byte("[]")
	}
	return dbErr(db.inTx(ctx, "WorkerUpsert", func(t *txn) error {
		now := us(t.now)
		started := now
		if !w.StartedAt.IsZero() {
			started = us(w.StartedAt)
		}
		_, err := t.exec(`INSERT INTO workers (id, hostname, pid, labels, concurrency, version, draining, problems, started_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET labels = excluded.labels, concurrency = excluded.concurrency, draining = excluded.draining,
				problems = excluded.problems, last_seen_at = excluded.last_seen_at`,
			w.ID, w.Hostname, w.PID, encodeLabels(w.Labels), w.Concurrency, w.Version, w.Draining, string(problems), started, now)
		return err
	}))
}

// WorkerRemove implements store.Lifecycle.
func (db *DB) WorkerRemove(ctx context.Context, id string) error {
	return dbErr(db.inTx(ctx, "WorkerRemove", func(t *txn) error {
		_, err := t.exec(`DELETE FROM workers WHERE id = ?`, id)
		return err
	}))
}

// WorkerList implements store.Lifecycle.
func (db *DB) WorkerList(ctx context.Context) ([]*store.WorkerInfo, error) {
	rows, err := db.read(ctx, `SELECT id, hostname, pid, labels, concurrency, version, draining, problems, started_at, last_seen_at FROM workers ORDER BY id`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.WorkerInfo
	for rows.Next() {
		w := &store.WorkerInfo{}
		var labels, problems string
		var started, seen int64
		if err := rows.Scan(&w.ID, &w.Hostname, &w.PID, &labels, &w.Concurrency, &w.Version, &w.Draining, &problems, &started, &seen); err != nil {
			return nil, dbErr(err)
		}
		w.Labels = decodeLabels(labels)
		_ = json.Unmarshal([]byte(problems), &w.Problems)
		w.StartedAt, w.LastSeenAt = fromUS(started), fromUS(seen)
		out = append(out, w)
	}
	return out, dbErr(rows.Err())
}

// WorkerPrune implements store.Lifecycle.
func (db *DB) WorkerPrune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.inTx(ctx, "WorkerPrune", func(t *txn) error {
		res, err := t.exec(`DELETE FROM workers WHERE last_seen_at < ?`, us(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), dbErr(err)
}

func decodeLabels(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// PipelineSetMissing implements store.Lifecycle.
func (db *DB) PipelineSetMissing(ctx context.Context, id string, missing bool) error {
	return dbErr(db.inTx(ctx, "PipelineSetMissing", func(t *txn) error {
		res, err := t.exec(`UPDATE pipelines SET missing = ?, updated_at = ? WHERE id = ?`, missing, us(t.now), id)
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

// InstanceListWaiting implements store.Lifecycle.
func (db *DB) InstanceListWaiting(ctx context.Context, before time.Time, limit int) ([]*store.WaitingInstance, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.read(ctx, db.q(`SELECT id, run_id, pipeline_id, task_id, map_index, pool, pool_slots, requires, ready_at, queued_timeout_us, blocked
		FROM task_instances WHERE `+claimable+` AND ready_at <= ? ORDER BY ready_at, id LIMIT ?`), us(before), limit)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.WaitingInstance
	for rows.Next() {
		w := &store.WaitingInstance{}
		var requires string
		var ready, timeout int64
		if err := rows.Scan(&w.ID, &w.RunID, &w.PipelineID, &w.TaskID, &w.MapIndex, &w.Pool, &w.PoolSlots, &requires, &ready, &timeout, &w.Blocked); err != nil {
			return nil, dbErr(err)
		}
		w.Requires = decodeLabels(requires)
		w.ReadyAt = fromUS(ready)
		w.QueuedTimeout = time.Duration(timeout) * time.Microsecond
		out = append(out, w)
	}
	return out, dbErr(rows.Err())
}

// InstanceSetBlocked implements store.Lifecycle.
func (db *DB) InstanceSetBlocked(ctx context.Context, reasons map[int64]string) error {
	if len(reasons) == 0 {
		return nil
	}
	return dbErr(db.inTx(ctx, "InstanceSetBlocked", func(t *txn) error {
		for _, id := range sortedIDs(keys(reasons)) {
			// A reason is set only on an instance still waiting: one a
			// worker claimed since the check was made is not blocked.
			if _, err := t.exec(`UPDATE task_instances SET blocked = ? WHERE id = ? AND blocked <> ? AND (`+claimable+` OR ? = '')`, reasons[id], id, reasons[id], reasons[id]); err != nil {
				return err
			}
		}
		t.notify(store.TopicInstances)
		return nil
	}))
}

// InstanceFailBlocked implements store.Lifecycle.
func (db *DB) InstanceFailBlocked(ctx context.Context, reasons map[int64]string) error {
	if len(reasons) == 0 {
		return nil
	}
	return dbErr(db.inTx(ctx, "InstanceFailBlocked", func(t *txn) error {
		var waiting []int64
		for _, id := range sortedIDs(keys(reasons)) {
			res, err := t.exec(`UPDATE task_instances SET blocked = ? WHERE id = ? AND `+claimable, reasons[id], id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				waiting = append(waiting, id)
			}
		}
		f := newFinisher(t)
		if err := f.finish(waiting, sluice.InstanceFailed); err != nil {
			return err
		}
		return f.done()
	}))
}

// StatsGet implements store.StatsReader.
func (db *DB) StatsGet(ctx context.Context) (*store.Stats, error) {
	s := &store.Stats{Ready: map[string]int{}, Running: map[string]int{}, ActiveRuns: map[string]int{}, PoolSlots: map[string]int{}}
	count := func(query string, args []any, into func(key string, n int)) error {
		rows, err := db.read(ctx, db.q(query), args...)
		if err != nil {
			return dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			var n int
			if err := rows.Scan(&key, &n); err != nil {
				return dbErr(err)
			}
			into(key, n)
		}
		return dbErr(rows.Err())
	}
	if err := count(`SELECT pool, COUNT(*) FROM task_instances WHERE `+claimable+` AND ready_at <= ? GROUP BY pool`,
		[]any{us(db.now())}, func(k string, n int) { s.Ready[k] = n }); err != nil {
		return nil, err
	}
	if err := count(`SELECT pool, COUNT(*) FROM task_instances WHERE state = 'running' GROUP BY pool`, nil,
		func(k string, n int) { s.Running[k] = n }); err != nil {
		return nil, err
	}
	if err := count(`SELECT state, COUNT(*) FROM runs WHERE state IN ('queued', 'running') GROUP BY state`, nil,
		func(k string, n int) { s.ActiveRuns[k] = n }); err != nil {
		return nil, err
	}
	if err := count(`SELECT name, slots FROM pools`, nil, func(k string, n int) { s.PoolSlots[k] = n }); err != nil {
		return nil, err
	}
	if err := db.readRow(ctx, `SELECT COUNT(*) FROM task_instances WHERE blocked <> ''`).Scan(&s.Blocked); err != nil {
		return nil, dbErr(err)
	}
	if err := db.readRow(ctx, `SELECT COUNT(*) FROM pipelines WHERE parse_error <> ''`).Scan(&s.PipelinesWithErrors); err != nil {
		return nil, dbErr(err)
	}
	return s, nil
}
