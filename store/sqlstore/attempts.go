package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// AttemptHeartbeat implements store.Store.
func (db *DB) AttemptHeartbeat(ctx context.Context, p *store.AttemptHeartbeatParams) ([]store.Lease, error) {
	if len(p.Leases) == 0 {
		return nil, nil
	}
	var lost []store.Lease
	err := db.inTx(ctx, "AttemptHeartbeat", func(t *txn) error {
		lost = lost[:0]
		until := us(t.now.Add(p.LeaseDuration))
		for _, l := range sortedLeases(p.Leases) {
			res, err := t.exec(`UPDATE attempts SET lease_expires_at = ? WHERE id = ? AND token = ? AND state = ?`,
				until, l.AttemptID, l.Token, string(sluice.AttemptRunning))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, l)
			}
		}
		return nil
	})
	return lost, dbErr(err)
}

func sortedLeases(leases []store.Lease) []store.Lease {
	out := slices.Clone(leases)
	slices.SortFunc(out, func(a, b store.Lease) int { return cmp.Compare(a.AttemptID, b.AttemptID) })
	return out
}

// holdLease checks, inside t, that the lease is held, and keeps the attempt
// row from being taken over until t ends.
func holdLease(t *txn, l store.Lease) error {
	var one int
	err := t.queryRow(`SELECT 1 FROM attempts WHERE id = ? AND token = ? AND state = ?`+t.db.d.ForShare,
		l.AttemptID, l.Token, string(sluice.AttemptRunning)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return sluice.ErrLeaseLost
	}
	return err
}

// AttemptLogAppend implements store.Store.
func (db *DB) AttemptLogAppend(ctx context.Context, p *store.AttemptLogAppendParams) error {
	return dbErr(db.inTx(ctx, "AttemptLogAppend", func(t *txn) error {
		if err := holdLease(t, p.Lease); err != nil {
			return err
		}
		return insertLog(t, p.Lease.AttemptID, &p.Chunk)
	}))
}

// AttemptComplete implements store.Store.
func (db *DB) AttemptComplete(ctx context.Context, ps []*store.AttemptCompleteParams) ([]error, error) {
	results, _, err := db.AttemptCompleteClaim(ctx, ps, nil)
	return results, err
}

// AttemptLogAppendMany implements store.Store: the leases checked in one
// statement, the chunks written in one more, whatever their number.
func (db *DB) AttemptLogAppendMany(ctx context.Context, ps []*store.AttemptLogAppendParams) ([]error, error) {
	results := make([]error, len(ps))
	if len(ps) == 0 {
		return results, nil
	}
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ps[a].Lease.AttemptID, ps[b].Lease.AttemptID) })
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.Lease.AttemptID
	}
	err := db.inTx(ctx, "AttemptLogAppend", func(t *txn) error {
		// As holdLease, for all of them: locked in id order, as every
		// completion locks its attempts.
		tokens := make(map[int64]int64, len(ps))
		for _, part := range chunks(sortedIDs(ids), maxBatch) {
			padded := padIDs(part)
			rows, err := t.query(`SELECT id, token FROM attempts WHERE id IN (`+placeholders(len(padded))+`) AND state = ? ORDER BY id`+t.db.d.ForShare,
				append(int64Args(padded), string(sluice.AttemptRunning))...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id, token int64
				if err := rows.Scan(&id, &token); err != nil {
					rows.Close()
					return err
				}
				tokens[id] = token
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		var logs []attemptChunk
		for _, i := range order {
			p := ps[i]
			if token, ok := tokens[p.Lease.AttemptID]; !ok || token != p.Lease.Token {
				results[i] = sluice.ErrLeaseLost
				continue
			}
			results[i] = nil
			logs = append(logs, attemptChunk{p.Lease.AttemptID, &p.Chunk})
		}
		return insertLogs(t, logs)
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return results, nil
}

// AttemptCompleteClaim implements store.Store.
func (db *DB) AttemptCompleteClaim(ctx context.Context, ps []*store.AttemptCompleteParams, next *store.ClaimAlong) ([]error, []*store.Claim, error) {
	if next != nil && next.LeaseDuration <= 0 {
		return nil, nil, sluice.Errorf(sluice.EINVALID, "lease duration must be positive")
	}
	slots := -1 // not asked yet: Slots is called at most once, retries or not
	for _, p := range ps {
		switch p.State {
		case sluice.AttemptSuccess, sluice.AttemptFailed, sluice.AttemptTimedOut, sluice.AttemptSkipped, sluice.AttemptRescheduled:
		default:
			return nil, nil, sluice.Errorf(sluice.EINVALID, "attempt %d: cannot complete as %q", p.Lease.AttemptID, p.State)
		}
	}
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ps[a].Lease.AttemptID, ps[b].Lease.AttemptID) })
	results := make([]error, len(ps))
	var claims []*store.Claim
	err := db.inTx(ctx, "AttemptComplete", func(t *txn) error {
		clear(results)
		claims = nil
		fenced, succeeded, err := fenceAttempts(t, ps, order)
		if err != nil {
			return err
		}
		var (
			logs        []attemptChunk
			outputs     []instanceOutputs
			successes   []int64
			failures    []int64
			skips       []int64
			rescheduled []*store.AttemptCompleteParams
			resIDs      []int64
			extras      = map[int64]map[string]string{}
			skipped     []skip
		)
		for _, i := range order {
			p := ps[i]
			instanceID, ok := fenced[p.Lease.AttemptID]
			if !ok {
				// A retry of a completion whose commit went through but
				// whose reply was lost finds its own outcome: not a loss.
				var state string
				err := t.queryRow(`SELECT state FROM attempts WHERE id = ? AND token = ?`, p.Lease.AttemptID, p.Lease.Token).Scan(&state)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				// A skip removes its attempt (see below): no row is
				// its own outcome too.
				if sluice.AttemptState(state) != p.State && (state != "" || p.State != sluice.AttemptSkipped) {
					results[i] = sluice.ErrLeaseLost
				}
				continue
			}
			if p.Log != nil && len(p.Log.Data) > 0 {
				logs = append(logs, attemptChunk{p.Lease.AttemptID, p.Log})
			}
			switch p.State {
			case sluice.AttemptSuccess:
				successes = append(successes, instanceID)
				if len(p.Outputs) > 0 {
					outputs = append(outputs, instanceOutputs{instanceID, p.Outputs})
					extras[instanceID] = p.Outputs
				}
			case sluice.AttemptSkipped:
				skips = append(skips, instanceID)
				skipped = append(skipped, skip{p.Lease.AttemptID, instanceID, p.Error})
			case sluice.AttemptRescheduled:
				rescheduled = append(rescheduled, p)
				resIDs = append(resIDs, instanceID)
			default:
				failures = append(failures, instanceID)
			}
		}
		if err := insertLogs(t, logs); err != nil {
			return err
		}
		if err := insertOutputs(t, outputs); err != nil {
			return err
		}
		for i, p := range rescheduled {
			// Not a failure: the instance waits, holding no slot, and is
			// claimed again at RetryAt (or earlier, when a run it waits
			// for finishes).
			if _, err := t.exec(`UPDATE task_instances SET state = 'up_for_reschedule', ready_at = ?, updated_at = ?
				WHERE id = ? AND state = 'running'`, us(p.RetryAt), us(t.now), resIDs[i]); err != nil {
				return err
			}
			t.notify(store.TopicInstances)
		}
		f := newFinisher(t)
		if t.db.d.WritableCTE {
			err = f.finished(succeeded, sluice.InstanceSuccess) // fenceAttempts finished them
		} else {
			err = f.finish(successes, sluice.InstanceSuccess)
		}
		if err != nil {
			return err
		}
		if err := produceAssets(t, f.produced, extras); err != nil {
			return err
		}
		if err := f.finish(skips, sluice.InstanceSkipped); err != nil {
			return err
		}
		// A task its when: condition skipped ran nothing: it keeps no
		// attempt (Airflow shows no try either), and the condition is its
		// note. Without an earlier attempt it never started either: the
		// claim's start time goes with the attempt.
		for _, s := range skipped {
			if _, err := t.exec(`DELETE FROM attempts WHERE id = ?`, s.attempt); err != nil {
				return err
			}
			if _, err := t.exec(`UPDATE task_instances SET attempts = attempts - 1, note = ?,
				started_at = CASE WHEN attempts = 1 THEN NULL ELSE started_at END WHERE id = ? AND attempts > 0`, s.note, s.instance); err != nil {
				return err
			}
		}
		slices.Sort(failures)
		for _, id := range failures {
			if err := f.fail(id); err != nil {
				return err
			}
		}
		if err := f.done(); err != nil {
			return err
		}
		// Only when these completions made something claimable: a
		// completion that readies nothing (most of a fan-out's) would
		// look for work in vain.
		if next == nil || !t.topics[store.TopicReady] {
			return nil
		}
		if slots < 0 {
			slots = next.Slots()
		}
		if slots == 0 {
			return nil
		}
		p := next.InstanceClaimParams
		p.Limit = slots
		if claims, err = claimAfter(t, &p); err != nil {
			return err
		}
		// What this transaction readied, this worker runs: waking the
		// claim loops of every worker (each with a claim that finds
		// nothing) would be for nothing.
		if !t.readyOther && claimedAll(t.readied, claims) {
			t.topics[store.TopicReady] = false
		}
		return nil
	})
	if err != nil {
		return nil, nil, dbErr(err)
	}
	return results, claims, nil
}

// claimedAll reports whether claims hold every instance of ids.
func claimedAll(ids []int64, claims []*store.Claim) bool {
	claimed := make(map[int64]bool, len(claims))
	for _, c := range claims {
		claimed[c.InstanceID] = true
	}
	for _, id := range ids {
		if !claimed[id] {
			return false
		}
	}
	return true
}

// fenceAttempts records the outcomes of the attempts whose leases are
// held, in one statement per chunk, and returns their instance ids by
// attempt id. An attempt missing from the result was not held.
//
// Where the database runs UPDATE inside WITH (PostgreSQL), the same
// statement finishes the instances of the attempts that succeeded, the
// outcome of most, and returns them for finisher.finished: a round trip
// and a statement less per completion transaction. Elsewhere succeeded is
// nil and the caller finishes them.
func fenceAttempts(t *txn, ps []*store.AttemptCompleteParams, order []int) (fenced map[int64]int64, succeeded []finishedRow, err error) {
	fenced = make(map[int64]int64, len(ps))
	for _, part := range chunks(order, maxBatch) {
		var values strings.Builder
		args := make([]any, 0, padded(len(part))*6+2)
		for n := 0; n < padded(len(part)); n++ {
			if n > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS TEXT))")
			if n >= len(part) { // padding: no attempt has id 0
				args = append(args, int64(0), int64(0), "", int64(0), nil, "")
				continue
			}
			p := ps[part[n]]
			var exitCode any
			if p.ExitCode != nil {
				exitCode = *p.ExitCode
			}
			args = append(args, p.Lease.AttemptID, p.Lease.Token, string(p.State), us(p.FinishedAt), exitCode, p.Error)
		}
		fence := `UPDATE attempts
			SET state = v.column3, finished_at = v.column4, exit_code = v.column5, error = v.column6
			FROM (VALUES ` + values.String() + `) AS v
			WHERE attempts.id = v.column1 AND attempts.token = v.column2 AND attempts.state = 'running'
			RETURNING attempts.id, attempts.instance_id`
		if !t.db.d.WritableCTE && len(part) == 1 {
			// One completion, a chain's every batch: SQLite runs the
			// join with VALUES through two temporary tables, which an
			// UPDATE of the one row by its key does without.
			fence = `UPDATE attempts SET state = ?, finished_at = ?, exit_code = ?, error = ?
				WHERE id = ? AND token = ? AND state = 'running'
				RETURNING id, instance_id`
			args = append(args[2:6:6], args[0], args[1])
		}
		if !t.db.d.WritableCTE {
			rows, err := t.query(fence, args...)
			if err != nil {
				return nil, nil, err
			}
			for rows.Next() {
				var id, instanceID int64
				if err := rows.Scan(&id, &instanceID); err != nil {
					rows.Close()
					return nil, nil, err
				}
				fenced[id] = instanceID
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, nil, err
			}
			continue
		}
		// As finisher.finish would with these instances and success.
		rows, err := t.query(`WITH fenced AS (`+fence+`, attempts.state
			), done AS (
				UPDATE task_instances SET state = '`+string(sluice.InstanceSuccess)+`', finished_at = ?, updated_at = ?
				FROM fenced WHERE fenced.state = '`+string(sluice.AttemptSuccess)+`' AND task_instances.id = fenced.instance_id
					AND task_instances.state IN `+unfinishedStates+`
				RETURNING task_instances.`+strings.ReplaceAll(finishedColumns, ", ", ", task_instances.")+`
			)
			SELECT fenced.id, fenced.instance_id, done.id IS NOT NULL, done.*
			FROM fenced LEFT JOIN done ON done.id = fenced.instance_id`, append(args, us(t.now), us(t.now))...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var (
				id, instanceID int64
				finished       bool
				d              finishedNull
			)
			if err := rows.Scan(append([]any{&id, &instanceID, &finished}, d.dest()...)...); err != nil {
				rows.Close()
				return nil, nil, err
			}
			fenced[id] = instanceID
			if finished {
				succeeded = append(succeeded, d.row())
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return fenced, succeeded, nil
}

// finishedNull is a finishedRow from the outer side of a join.
type finishedNull struct {
	id, runID, mapIndex, callbacks, attempts, parent sql.NullInt64
	taskID                                           sql.NullString
	limited, allowed                                 sql.NullBool
}

func (n *finishedNull) dest() []any {
	return []any{&n.id, &n.runID, &n.taskID, &n.mapIndex, &n.parent, &n.callbacks, &n.attempts, &n.limited, &n.allowed}
}

func (n *finishedNull) row() finishedRow {
	return finishedRow{id: n.id.Int64, rt: runTask{runID: n.runID.Int64, taskID: n.taskID.String}, mapIndex: int(n.mapIndex.Int64),
		attempts: int(n.attempts.Int64), parent: n.parent, callbacks: int(n.callbacks.Int64), limited: n.limited.Bool, allowed: n.allowed.Bool}
}

type attemptChunk struct {
	attemptID int64
	chunk     *store.LogChunk
}

// insertLogs stores log chunks. A retried write of the same chunk (after
// a lost commit acknowledgement) is a no-op rather than an error.
func insertLogs(t *txn, logs []attemptChunk) error {
	for _, part := range chunks(logs, 200) {
		q := `INSERT INTO log_chunks (attempt_id, seq, data) VALUES ` + strings.Repeat("(?, ?, ?), ", len(part)-1) + `(?, ?, ?)`
		args := make([]any, 0, len(part)*3)
		for _, l := range part {
			args = append(args, l.attemptID, l.chunk.Seq, l.chunk.Data)
		}
		if _, err := t.exec(q+` ON CONFLICT (attempt_id, seq) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

func insertLog(t *txn, attemptID int64, c *store.LogChunk) error {
	return insertLogs(t, []attemptChunk{{attemptID, c}})
}

type instanceOutputs struct {
	instanceID int64
	outputs    map[string]string
}

func insertOutputs(t *txn, all []instanceOutputs) error {
	type row struct {
		id     int64
		key, v string
	}
	var rows []row
	for _, io := range all {
		keys := make([]string, 0, len(io.outputs))
		for k := range io.outputs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			rows = append(rows, row{io.instanceID, k, io.outputs[k]})
		}
	}
	for _, part := range chunks(rows, 200) {
		q := `INSERT INTO outputs (instance_id, key, value) VALUES ` + strings.Repeat("(?, ?, ?), ", len(part)-1) + `(?, ?, ?)`
		args := make([]any, 0, len(part)*3)
		for _, r := range part {
			args = append(args, r.id, r.key, r.v)
		}
		if _, err := t.exec(q+` ON CONFLICT (instance_id, key) DO UPDATE SET value = excluded.value`, args...); err != nil {
			return err
		}
	}
	return nil
}

// AttemptSetContainer implements store.Store.
func (db *DB) AttemptSetContainer(ctx context.Context, l store.Lease, image, containerID string) error {
	return dbErr(db.inTx(ctx, "AttemptSetContainer", func(t *txn) error {
		res, err := t.exec(`UPDATE attempts SET image = ?, container_id = ? WHERE id = ? AND token = ? AND state = ?`,
			image, containerID, l.AttemptID, l.Token, string(sluice.AttemptRunning))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return sluice.ErrLeaseLost
		}
		return nil
	}))
}

// AttemptSetBlocked implements store.Store.
func (db *DB) AttemptSetBlocked(ctx context.Context, l store.Lease, reason string) error {
	return dbErr(db.inTx(ctx, "AttemptSetBlocked", func(t *txn) error {
		res, err := t.exec(`UPDATE task_instances SET blocked = ?
			WHERE id = (SELECT instance_id FROM attempts WHERE id = ? AND token = ? AND state = ?)`,
			reason, l.AttemptID, l.Token, string(sluice.AttemptRunning))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return sluice.ErrLeaseLost
		}
		t.notify(store.TopicInstances)
		return nil
	}))
}

// AttemptHandBack implements store.Store.
func (db *DB) AttemptHandBack(ctx context.Context, leases []store.Lease) error {
	if len(leases) == 0 {
		return nil
	}
	return dbErr(db.inTx(ctx, "AttemptHandBack", func(t *txn) error {
		now := us(t.now)
		for _, l := range sortedLeases(leases) {
			var instanceID int64
			err := t.queryRow(`UPDATE attempts SET state = ?, finished_at = ?, error = ?
				WHERE id = ? AND token = ? AND state = ? RETURNING instance_id`,
				string(sluice.AttemptHandedBack), now, "handed back by a draining worker",
				l.AttemptID, l.Token, string(sluice.AttemptRunning)).Scan(&instanceID)
			if errors.Is(err, sql.ErrNoRows) {
				continue // already lost: nothing to give back
			}
			if err != nil {
				return err
			}
			if _, err := t.exec(`UPDATE task_instances SET state = ?, ready_at = ?, updated_at = ? WHERE id = ? AND state = ?`,
				string(sluice.InstanceQueued), now, now, instanceID, string(sluice.InstanceRunning)); err != nil {
				return err
			}
			t.notify(store.TopicReady)
			t.notify(store.TopicInstances)
		}
		return nil
	}))
}

// AttemptReap implements store.Store.
func (db *DB) AttemptReap(ctx context.Context, p *store.AttemptReapParams) ([]*store.Attempt, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var reaped []*store.Attempt
	err := db.inTx(ctx, "AttemptReap", func(t *txn) error {
		reaped = reaped[:0]
		// A literal state, so the partial index attempts_lease applies.
		q := `SELECT ` + attemptColumns + ` FROM attempts WHERE state = 'running'`
		var args []any
		if !p.ExpiredBefore.IsZero() {
			q += ` AND lease_expires_at < ?`
			args = append(args, us(p.ExpiredBefore))
		}
		// Ordered by the index's column: ordered by id, SQLite without
		// statistics (a store that never had a large insert) walks the
		// whole table by rowid on every scheduler pass instead.
		q += ` ORDER BY lease_expires_at, id LIMIT ?` + db.d.SkipLocked
		args = append(args, limit)
		rows, err := t.query(q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			a, err := scanAttempt(rows)
			if err != nil {
				rows.Close()
				return err
			}
			reaped = append(reaped, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		f := newFinisher(t)
		for _, a := range reaped {
			if _, err := t.exec(`UPDATE attempts SET state = ?, finished_at = ?, error = ? WHERE id = ?`,
				string(sluice.AttemptLost), us(t.now), p.Reason, a.ID); err != nil {
				return err
			}
			a.State = sluice.AttemptLost
			a.Error = p.Reason
			now := t.now
			a.FinishedAt = &now
			if err := f.fail(a.InstanceID); err != nil {
				return err
			}
		}
		return f.done()
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return reaped, nil
}

const attemptColumns = `id, instance_id, run_id, task_id, number, worker, token, state, image, container_id, exit_code, error, started_at, finished_at, lease_expires_at`

func scanAttempt(sc interface{ Scan(...any) error }) (*store.Attempt, error) {
	var (
		a                store.Attempt
		state            string
		exit             sql.NullInt64
		started, expires int64
		finished         sql.NullInt64
	)
	if err := sc.Scan(&a.ID, &a.InstanceID, &a.RunID, &a.TaskID, &a.Number, &a.Worker, &a.Token, &state, &a.Image, &a.ContainerID, &exit, &a.Error,
		&started, &finished, &expires); err != nil {
		return nil, err
	}
	a.State = sluice.AttemptState(state)
	if exit.Valid {
		c := int(exit.Int64)
		a.ExitCode = &c
	}
	a.StartedAt = fromUS(started)
	a.FinishedAt = fromNullUS(finished)
	a.LeaseExpiresAt = fromUS(expires)
	return &a, nil
}

// AttemptList implements store.Store.
func (db *DB) AttemptList(ctx context.Context, instanceID int64) ([]*store.Attempt, error) {
	return db.listAttempts(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE instance_id = ? ORDER BY number`, instanceID)
}

// AttemptListByRun implements store.Store.
func (db *DB) AttemptListByRun(ctx context.Context, runID int64) ([]*store.Attempt, error) {
	return db.listAttempts(ctx, `SELECT `+attemptColumns+` FROM attempts
		WHERE instance_id IN (SELECT id FROM task_instances WHERE run_id = ?) ORDER BY id`, runID)
}

// AttemptListByID implements store.Store.
func (db *DB) AttemptListByID(ctx context.Context, ids []int64) ([]*store.Attempt, error) {
	ids = sortedIDs(ids)
	var out []*store.Attempt
	for _, part := range chunks(ids, maxBatch) {
		padded := padIDs(part)
		list, err := db.listAttempts(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE id IN (`+placeholders(len(padded))+`) ORDER BY id`, int64Args(padded)...)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

func (db *DB) listAttempts(ctx context.Context, query string, args ...any) ([]*store.Attempt, error) {
	rows, err := db.read(ctx, db.q(query), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, a)
	}
	return out, dbErr(rows.Err())
}

// LogList implements store.Store.
func (db *DB) LogList(ctx context.Context, attemptID int64, afterSeq int) ([]*store.LogChunk, error) {
	rows, err := db.read(ctx, db.q(`SELECT seq, data FROM log_chunks WHERE attempt_id = ? AND seq > ? ORDER BY seq`), attemptID, afterSeq)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.LogChunk
	for rows.Next() {
		c := &store.LogChunk{}
		if err := rows.Scan(&c.Seq, &c.Data); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, c)
	}
	return out, dbErr(rows.Err())
}

// retryJitter is the random source of retry jitter; any source will do.
func retryJitter() float64 { return rand.Float64() }

// skip is a completion that found the task's when: condition false.
type skip struct {
	attempt, instance int64
	note              string
}
