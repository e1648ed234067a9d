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
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, run_id, task_id, state, attempts, failures, priority,
		ready_at, started_at, finished_at FROM task_instances WHERE run_id = ? ORDER BY id`), runID)
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
