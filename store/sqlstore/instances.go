package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// InstanceList implements store.Store.
func (db *DB) InstanceList(ctx context.Context, runID int64) ([]*store.Instance, error) {
	return db.listInstances(ctx, `WHERE run_id = ? ORDER BY id`, runID)
}

func (db *DB) listInstances(ctx context.Context, where string, args ...any) ([]*store.Instance, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, run_id, task_id, state, attempts, failures, priority,
		ready_at, started_at, finished_at FROM task_instances `+where), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Instance
	for rows.Next() {
		var (
			in                       store.Instance
			state                    string
			ready, started, finished sql.NullInt64
		)
		if err := rows.Scan(&in.ID, &in.RunID, &in.TaskID, &state, &in.Attempts, &in.Failures, &in.Priority,
			&ready, &started, &finished); err != nil {
			return nil, dbErr(err)
		}
		in.State = sluice.InstanceState(state)
		in.ReadyAt = fromNullUS(ready)
		in.StartedAt = fromNullUS(started)
		in.FinishedAt = fromNullUS(finished)
		out = append(out, &in)
	}
	return out, dbErr(rows.Err())
}

// claimable selects claimable instances. The states are literals, not
// parameters, so that SQLite and PostgreSQL can prove the query matches the
// partial index task_instances_claimable and use it.
const claimable = `state IN ('queued', 'up_for_retry')`

// InstanceClaim implements store.Store.
func (db *DB) InstanceClaim(ctx context.Context, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.LeaseDuration <= 0 {
		return nil, sluice.Errorf(sluice.EINVALID, "lease duration must be positive")
	}
	if db.d.WritableCTE {
		return db.claimInOneStatement(ctx, p)
	}
	var claims []*store.Claim
	err := db.inTx(ctx, func(t *txn) error {
		claims = claims[:0]
		now := us(t.now)
		rows, err := t.query(`UPDATE task_instances
			SET state = ?, attempts = attempts + 1, started_at = COALESCE(started_at, ?), updated_at = ?
			WHERE id IN (
				SELECT id FROM task_instances
				WHERE `+claimable+` AND ready_at <= ?
				ORDER BY priority DESC, ready_at, id
				LIMIT ?`+db.d.SkipLocked+`)
			RETURNING id, run_id, task_id, attempts, ready_at`,
			string(sluice.InstanceRunning), now, now, now, p.Limit)
		if err != nil {
			return err
		}
		byRun := map[int64][]*store.Claim{}
		for rows.Next() {
			c := &store.Claim{}
			var readyAt int64
			if err := rows.Scan(&c.InstanceID, &c.RunID, &c.TaskID, &c.Attempt, &readyAt); err != nil {
				rows.Close()
				return err
			}
			c.ReadyAt = fromUS(readyAt)
			c.StartedAt = t.now
			c.LeaseExpiresAt = t.now.Add(p.LeaseDuration)
			c.Token = newToken()
			claims = append(claims, c)
			byRun[c.RunID] = append(byRun[c.RunID], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(claims) == 0 {
			return nil
		}
		runIDs := make([]int64, 0, len(byRun))
		for id := range byRun {
			runIDs = append(runIDs, id)
		}
		rows, err = t.query(`SELECT id, pipeline_id, version_id, key, logical_date, params FROM runs WHERE id IN (`+
			placeholders(len(runIDs))+`)`, int64Args(runIDs)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id, vid, logical int64
				pid, key, params string
			)
			if err := rows.Scan(&id, &pid, &vid, &key, &logical, &params); err != nil {
				rows.Close()
				return err
			}
			for _, c := range byRun[id] {
				c.PipelineID, c.VersionID, c.RunKey, c.LogicalDate, c.Params = pid, vid, key, fromUS(logical), []byte(params)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		q := `INSERT INTO attempts (instance_id, run_id, task_id, number, worker, token, state, lease_expires_at, started_at) VALUES `
		args := make([]any, 0, len(claims)*9)
		for i, c := range claims {
			if i > 0 {
				q += ", "
			}
			q += "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
			args = append(args, c.InstanceID, c.RunID, c.TaskID, c.Attempt, p.Worker, c.Token,
				string(sluice.AttemptRunning), us(c.LeaseExpiresAt), now)
		}
		rows, err = t.query(q+" RETURNING id, instance_id", args...)
		if err != nil {
			return err
		}
		byInstance := make(map[int64]*store.Claim, len(claims))
		for _, c := range claims {
			byInstance[c.InstanceID] = c
		}
		for rows.Next() {
			var id, instanceID int64
			if err := rows.Scan(&id, &instanceID); err != nil {
				rows.Close()
				return err
			}
			byInstance[instanceID].AttemptID = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		t.notify(store.TopicInstances)
		return nil
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return claims, nil
}

// newToken returns a random non-zero fencing token.
func newToken() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("sqlstore: no randomness: %v", err))
	}
	v := int64(binary.LittleEndian.Uint64(b[:]) &^ (1 << 63))
	if v == 0 {
		v = 1
	}
	return v
}

// claimInOneStatement claims with a single statement of data-modifying
// common table expressions, in one round trip and its own implicit
// transaction: the cheapest claim PostgreSQL can do, which matters when
// several worker processes claim thousands of tasks a second.
func (db *DB) claimInOneStatement(ctx context.Context, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	now := db.now()
	expires := now.Add(p.LeaseDuration)
	rows, err := db.w.QueryContext(ctx, db.q(`WITH picked AS (
			SELECT id FROM task_instances
			WHERE `+claimable+` AND ready_at <= ?
			ORDER BY priority DESC, ready_at, id
			LIMIT ?`+db.d.SkipLocked+`
		), claimed AS (
			UPDATE task_instances ti
			SET state = 'running', attempts = ti.attempts + 1, started_at = COALESCE(ti.started_at, ?), updated_at = ?
			FROM picked WHERE ti.id = picked.id
			RETURNING ti.id, ti.run_id, ti.task_id, ti.attempts, ti.ready_at
		), inserted AS (
			INSERT INTO attempts (instance_id, run_id, task_id, number, worker, token, state, lease_expires_at, started_at)
			SELECT id, run_id, task_id, attempts, ?, `+db.d.RandomToken+`, 'running', ?, ? FROM claimed
			RETURNING id, instance_id, token
		)
		SELECT i.id, i.token, c.id, c.run_id, c.task_id, c.attempts, c.ready_at, r.pipeline_id, r.version_id, r.key, r.logical_date, r.params
		FROM inserted i JOIN claimed c ON c.id = i.instance_id JOIN runs r ON r.id = c.run_id
		ORDER BY c.id`), us(now), p.Limit, us(now), us(now), p.Worker, us(expires), us(now))
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var claims []*store.Claim
	for rows.Next() {
		c := &store.Claim{StartedAt: now, LeaseExpiresAt: expires}
		var readyAt, logical int64
		var params string
		if err := rows.Scan(&c.AttemptID, &c.Token, &c.InstanceID, &c.RunID, &c.TaskID, &c.Attempt, &readyAt,
			&c.PipelineID, &c.VersionID, &c.RunKey, &logical, &params); err != nil {
			return nil, dbErr(err)
		}
		c.ReadyAt, c.LogicalDate, c.Params = fromUS(readyAt), fromUS(logical), []byte(params)
		claims = append(claims, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if len(claims) > 0 {
		db.committed([]store.Topic{store.TopicInstances})
	}
	return claims, nil
}
