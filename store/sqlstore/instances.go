package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// InstanceList implements store.Store.
func (db *DB) InstanceList(ctx context.Context, runID int64) ([]*store.Instance, error) {
	return db.listInstances(ctx, `WHERE run_id = ? ORDER BY id`, runID)
}

// InstanceSelect implements store.Store. Each filter is a column of the
// key (run_id, task_id, map_index), so the key's index serves every one.
func (db *DB) InstanceSelect(ctx context.Context, p *store.InstanceSelectParams) ([]*store.Instance, error) {
	if len(p.RunIDs) == 0 {
		return nil, nil
	}
	where := `WHERE run_id IN (` + placeholders(len(p.RunIDs)) + `)`
	args := int64Args(p.RunIDs)
	if p.TaskID != "" {
		where += ` AND task_id = ?`
		args = append(args, p.TaskID)
	}
	switch p.Which {
	case store.NoItems:
		where += ` AND map_index = -1`
	case store.OnlyItems:
		where += ` AND map_index >= 0`
	case store.Item:
		where += ` AND map_index = ?`
		args = append(args, p.MapIndex)
	}
	return db.listInstances(ctx, where+` ORDER BY run_id, id`, args...)
}

func (db *DB) listInstances(ctx context.Context, where string, args ...any) ([]*store.Instance, error) {
	rows, err := db.read(ctx, db.q(`SELECT id, run_id, task_id, map_index, parent_id, item, items_total, state, attempts, failures, priority,
		ready_at, started_at, finished_at, blocked, allow_failure, note FROM task_instances `+where), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Instance
	for rows.Next() {
		var (
			in                       store.Instance
			state                    string
			parent                   sql.NullInt64
			item                     sql.NullString
			ready, started, finished sql.NullInt64
		)
		if err := rows.Scan(&in.ID, &in.RunID, &in.TaskID, &in.MapIndex, &parent, &item, &in.ItemsTotal, &state, &in.Attempts, &in.Failures, &in.Priority,
			&ready, &started, &finished, &in.Blocked, &in.AllowFailure, &in.Note); err != nil {
			return nil, dbErr(err)
		}
		if parent.Valid {
			in.ParentID = &parent.Int64
		}
		if item.Valid {
			in.Item = &item.String
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
// partial index task_instances_claimable and use it. It is written as
// SQLite's index writes it, with ORs (see its migration 00021: an IN list
// of three costs a temporary table per statement); PostgreSQL's index
// keeps IN, and it proves the ORs match it all the same.
const claimable = `(state = 'queued' OR state = 'up_for_retry' OR state = 'up_for_reschedule')`

// labelFilter is the condition that an instance's required labels are all
// among the worker's: removing each of the worker's labels from the
// instance's ",a,b," must leave ",". Its text depends only on how many
// labels the worker has, so it is prepared once.
func labelFilter(labels []string) (string, []any) {
	expr := "requires"
	args := make([]any, 0, len(labels))
	for _, l := range labels {
		expr = "REPLACE(" + expr + ", ?, ',')"
		args = append(args, ","+l+",")
	}
	return "(requires = '' OR " + expr + " = ',')", args
}

// InstanceClaim implements store.Store.
func (db *DB) InstanceClaim(ctx context.Context, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.LeaseDuration <= 0 {
		return nil, sluice.Errorf(sluice.EINVALID, "lease duration must be positive")
	}
	if db.d.WritableCTE {
		claims, err := db.claimInOneStatement(ctx, p)
		if err != nil || len(claims) == p.Limit {
			return claims, err
		}
		// Room left: claim instances with limits (pools, max_parallel,
		// max_active_tasks) too, if any wait. Most claims that find less
		// than they asked for find none of those either, and the look
		// costs one statement where the transaction of claimLimited costs
		// three round trips (in a 1,000-task chain on 4 worker processes,
		// every process wakes for each ready task and all but one find
		// nothing: 3.3 such transactions per hop, most of the workers'
		// and the database's CPU).
		waiting, err := db.limitedWaiting(ctx, p)
		if err != nil || !waiting {
			return claims, err
		}
		more, err := db.claimLimited(ctx, p, p.Limit-len(claims), true)
		return append(claims, more...), err
	}
	return db.claimLimited(ctx, p, p.Limit, false)
}

// limitedWaiting reports whether an instance with limits waits to be
// claimed by a worker with p.Labels; the partial index of such instances
// answers it.
func (db *DB) limitedWaiting(ctx context.Context, p *store.InstanceClaimParams) (bool, error) {
	labels, labelArgs := labelFilter(p.Labels)
	var waiting bool
	err := db.readRow(ctx, db.q(`SELECT EXISTS (SELECT 1 FROM task_instances
		WHERE limited AND `+claimable+` AND ready_at <= ? AND `+labels+`)`), append([]any{us(db.now())}, labelArgs...)...).Scan(&waiting)
	return waiting, dbErr(err)
}

// candidate is a claimable instance and the limits it must fit in.
type candidate struct {
	id, runID   int64
	pool        string
	slots       int
	limited     bool
	parentID    sql.NullInt64
	maxParallel int
	pipelineID  string
}

// claimLimited claims in a transaction, in priority order, checking each
// instance's limits: the slots of its pool, the max_parallel of its mapped
// task and the max_active_tasks of its pipeline. The rows that hold a limit
// (the pool, the mapped task's instance, the pipeline) are locked while
// their usage is counted, so concurrent claims cannot both take the last
// slot. With onlyLimited, instances without limits are left to the
// one-statement claim.
func (db *DB) claimLimited(ctx context.Context, p *store.InstanceClaimParams, limit int, onlyLimited bool) ([]*store.Claim, error) {
	var claims []*store.Claim
	err := db.inTx(ctx, "InstanceClaim", func(t *txn) error {
		var err error
		claims, err = claimInTx(t, p, limit, onlyLimited)
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return claims, nil
}

// claimInTx is claimLimited's claim, inside t.
func claimInTx(t *txn, p *store.InstanceClaimParams, limit int, onlyLimited bool) ([]*store.Claim, error) {
	labels, labelArgs := labelFilter(p.Labels)
	cond := claimable + ` AND ready_at <= ? AND ` + labels
	if onlyLimited {
		cond = `limited AND ` + cond
	}
	args := append([]any{us(t.now)}, labelArgs...)
	// The limit is written into the statement, as a power of two, not
	// bound: SQLite plans an ORDER BY … LIMIT with the value bound to it,
	// so a bound limit made it prepare the statement anew on every claim
	// (sqlite3Reprepare, ~20 µs of the claim's ~45 µs in a profile of a
	// 3,000-task chain).
	rows, err := t.query(`SELECT id, run_id, pool, pool_slots, limited, parent_id, max_parallel, pipeline_id
		FROM task_instances WHERE `+cond+`
		ORDER BY priority DESC, ready_at, id LIMIT `+strconv.Itoa(padded(2*limit+16))+t.db.d.SkipLocked, args...)
	if err != nil {
		return nil, err
	}
	var cands []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.runID, &c.pool, &c.slots, &c.limited, &c.parentID, &c.maxParallel, &c.pipelineID); err != nil {
			rows.Close()
			return nil, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	accepted, err := fitLimits(t, cands, limit)
	if err != nil || len(accepted) == 0 {
		return nil, err
	}
	return claimIDs(t, accepted, p)
}

// claimAfter claims, at the end of t, up to p.Limit instances for the
// worker whose completions t records: what InstanceClaim would claim
// right after t commits, without a transaction and a wake-up of its own
// (AttemptCompleteClaim). The claim is dated now, not t's start, so an
// attempt never starts before the completion that made it ready.
func claimAfter(t *txn, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	t.now = t.db.now()
	if !t.db.d.WritableCTE {
		return claimInTx(t, p, p.Limit, false)
	}
	// On PostgreSQL the one-statement claim, on t's connection; instances
	// with limits are left to the worker's next InstanceClaim, which the
	// completion's notice of ready instances wakes.
	claims, err := inPieces(p.Limit, func(n int) ([]*store.Claim, error) { return t.db.claimRows(p, n, t.now, t.query) })
	if len(claims) > 0 {
		t.notify(store.TopicInstances)
	}
	return claims, err
}

// fitLimits picks, in order, up to limit candidates that fit their limits.
func fitLimits(t *txn, cands []candidate, limit int) ([]int64, error) {
	var (
		pools     = map[string]bool{}
		parents   = map[int64]bool{}
		pipelines = map[string]bool{}
	)
	for _, c := range cands {
		if !c.limited {
			continue
		}
		if c.pool != "" {
			pools[c.pool] = true
		}
		if c.parentID.Valid && c.maxParallel > 0 {
			parents[c.parentID.Int64] = true
		}
		pipelines[c.pipelineID] = true
	}
	poolRoom, err := lockPools(t, keys(pools))
	if err != nil {
		return nil, err
	}
	parentRoom, err := lockParents(t, keys(parents), cands)
	if err != nil {
		return nil, err
	}
	pipelineRoom, err := lockPipelines(t, keys(pipelines))
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, c := range cands {
		if len(out) == limit {
			break
		}
		if c.limited {
			if c.pool != "" && poolRoom[c.pool] < c.slots {
				continue // the pool is full, or does not exist
			}
			if c.parentID.Valid && c.maxParallel > 0 && parentRoom[c.parentID.Int64] < 1 {
				continue
			}
			if room, ok := pipelineRoom[c.pipelineID]; ok && room < 1 {
				continue
			}
			if c.pool != "" {
				poolRoom[c.pool] -= c.slots
			}
			if c.parentID.Valid && c.maxParallel > 0 {
				parentRoom[c.parentID.Int64]--
			}
			if _, ok := pipelineRoom[c.pipelineID]; ok {
				pipelineRoom[c.pipelineID]--
			}
		}
		out = append(out, c.id)
	}
	return out, nil
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// lockPools locks the pools and returns the free slots of each; a pool
// that does not exist has none.
func lockPools(t *txn, names []string) (map[string]int, error) {
	room := map[string]int{}
	if len(names) == 0 {
		return room, nil
	}
	slices.Sort(names)
	rows, err := t.query(`SELECT name, slots FROM pools WHERE name IN (`+placeholders(len(names))+`) ORDER BY name`+t.db.d.ForUpdate, stringArgs(names)...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name string
		var slots int
		if err := rows.Scan(&name, &slots); err != nil {
			rows.Close()
			return nil, err
		}
		room[name] = slots
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = t.query(`SELECT pool, COALESCE(SUM(pool_slots), 0) FROM task_instances
		WHERE state = 'running' AND pool <> '' AND pool IN (`+placeholders(len(names))+`) GROUP BY pool`, stringArgs(names)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var used int
		if err := rows.Scan(&name, &used); err != nil {
			return nil, err
		}
		room[name] -= used
	}
	return room, rows.Err()
}

// lockParents locks mapped tasks' instances and returns how many more of
// each one's items may run.
func lockParents(t *txn, ids []int64, cands []candidate) (map[int64]int, error) {
	room := map[int64]int{}
	if len(ids) == 0 {
		return room, nil
	}
	for _, c := range cands {
		if c.parentID.Valid {
			room[c.parentID.Int64] = c.maxParallel
		}
	}
	ids = sortedIDs(ids)
	if _, err := t.ids(`SELECT id FROM task_instances WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`+t.db.d.ForUpdate, int64Args(ids)...); err != nil {
		return nil, err
	}
	rows, err := t.query(`SELECT parent_id, COUNT(*) FROM task_instances
		WHERE parent_id IN (`+placeholders(len(ids))+`) AND state = 'running' GROUP BY parent_id`, int64Args(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		room[id] -= n
	}
	return room, rows.Err()
}

// lockPipelines locks the pipelines with a max_active_tasks and returns how
// many more of their instances may run; pipelines without one are absent.
func lockPipelines(t *txn, ids []string) (map[string]int, error) {
	room := map[string]int{}
	if len(ids) == 0 {
		return room, nil
	}
	slices.Sort(ids)
	rows, err := t.query(`SELECT id, max_active_tasks FROM pipelines WHERE id IN (`+placeholders(len(ids))+`) AND max_active_tasks > 0 ORDER BY id`+t.db.d.ForPipeline, stringArgs(ids)...)
	if err != nil {
		return nil, err
	}
	var limited []string
	for rows.Next() {
		var id string
		var max int
		if err := rows.Scan(&id, &max); err != nil {
			rows.Close()
			return nil, err
		}
		room[id] = max
		limited = append(limited, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(limited) == 0 {
		return room, err
	}
	rows, err = t.query(`SELECT pipeline_id, COUNT(*) FROM task_instances
		WHERE state = 'running' AND pipeline_id IN (`+placeholders(len(limited))+`) GROUP BY pipeline_id`, stringArgs(limited)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		room[id] -= n
	}
	return room, rows.Err()
}

// claimIDs starts an attempt for each instance and returns the claims.
func claimIDs(t *txn, ids []int64, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	now := us(t.now)
	ids = sortedIDs(ids)
	padded := padIDs(ids)
	rows, err := t.query(`UPDATE task_instances
		SET state = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, ?), updated_at = ?, blocked = ''
		WHERE id IN (`+placeholders(len(padded))+`)
		RETURNING id, run_id, task_id, map_index, item, attempts, failures, started_at, ready_at, pool`,
		append([]any{now, now}, int64Args(padded)...)...)
	if err != nil {
		return nil, err
	}
	var claims []*store.Claim
	for rows.Next() {
		c := &store.Claim{}
		var readyAt, started int64
		var item sql.NullString
		if err := rows.Scan(&c.InstanceID, &c.RunID, &c.TaskID, &c.MapIndex, &item, &c.Attempt, &c.Failures, &started, &readyAt, &c.Pool); err != nil {
			rows.Close()
			return nil, err
		}
		if item.Valid {
			c.Item = &item.String
		}
		c.ReadyAt = fromUS(readyAt)
		c.FirstStartedAt = fromUS(started)
		c.StartedAt = t.now
		c.LeaseExpiresAt = t.now.Add(p.LeaseDuration)
		c.Token = newToken()
		claims = append(claims, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	byInstance := make(map[int64]*store.Claim, len(claims))
	claimed := make([]int64, 0, len(claims))
	for _, c := range claims {
		byInstance[c.InstanceID] = c
		claimed = append(claimed, c.InstanceID)
	}
	if err := claimRuns(t, claimed, byInstance); err != nil {
		return nil, err
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
	if len(claims) == 1 && !t.db.d.WritableCTE {
		// One claim, a chain's every claim: SQLite tells the id of the
		// row an INSERT added, where RETURNING costs a temporary table
		// and a result set.
		res, err := t.exec(q, args...)
		if err != nil {
			return nil, err
		}
		if claims[0].AttemptID, err = res.LastInsertId(); err != nil {
			return nil, err
		}
		t.notify(store.TopicInstances)
		return claims, nil
	}
	rows, err = t.query(q+" RETURNING id, instance_id", args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, instanceID int64
		if err := rows.Scan(&id, &instanceID); err != nil {
			rows.Close()
			return nil, err
		}
		byInstance[instanceID].AttemptID = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	t.notify(store.TopicInstances)
	return claims, nil
}

// claimRuns fills in what the claims of the instances ids (at least one)
// carry from their runs and upstream tasks, in one statement: the run's
// pipeline, version, key, logical date, params and trigger events, and the
// outputs of the instance's direct upstream tasks.
func claimRuns(t *txn, ids []int64, byInstance map[int64]*store.Claim) error {
	padded := padIDs(ids)
	rows, err := t.query(t.db.claimRunsQuery(len(padded)), int64Args(padded)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, vid, logical       int64
			pid, key, params, trig string
			outs                   sql.NullString
		)
		if err := rows.Scan(&id, &pid, &vid, &key, &logical, &params, &trig, &outs); err != nil {
			return err
		}
		c := byInstance[id]
		c.PipelineID, c.VersionID, c.RunKey, c.LogicalDate, c.Params = pid, vid, key, fromUS(logical), []byte(params)
		c.TriggerEvents = triggerEventsOf(trig)
		if c.Outputs, err = decodeUpstreamOutputs(outs); err != nil {
			return err
		}
	}
	return rows.Err()
}

// claimRunsQuery selects what claimRuns reads of n claimed instances. Only
// instances with upstream tasks look for upstream outputs.
func (db *DB) claimRunsQuery(n int) string {
	return `SELECT ti.id, r.pipeline_id, r.version_id, r.key, r.logical_date, r.params, r.trigger_events,
			CASE WHEN ti.up_total > 0 THEN ` + db.upstreamOutputs("ti", "r") + ` END
		FROM task_instances ti JOIN runs r ON r.id = ti.run_id
		WHERE ti.id IN (` + placeholders(n) + `)`
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

// claimInOneStatement claims instances without limits with a single
// statement of data-modifying common table expressions, in one round trip
// and its own implicit transaction: the cheapest claim PostgreSQL can do,
// which matters when several worker processes claim thousands of tasks a
// second.
//
// The limit is written into the statement (see claimStatement), so each
// limit is a prepared statement of its own on every connection. Limits
// up to claimLiteralMax are written as they are; a larger one is claimed
// in pieces of a power of two, so a worker with hundreds of slots keeps a
// few dozen statements, not hundreds.
func (db *DB) claimInOneStatement(ctx context.Context, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	start := time.Now()
	claims, err := inPieces(p.Limit, func(n int) ([]*store.Claim, error) { return db.claimStatement(ctx, p, n) })
	db.observe("InstanceClaim", start, err)
	return claims, err
}

// inPieces claims up to limit instances with claim, asking each time for
// claimPiece of what is left, until a piece comes back short.
func inPieces(limit int, claim func(n int) ([]*store.Claim, error)) ([]*store.Claim, error) {
	var claims []*store.Claim
	for left := limit; left > 0; {
		n := claimPiece(left)
		got, err := claim(n)
		claims = append(claims, got...)
		if err != nil || len(got) < n {
			return claims, err
		}
		left -= n
	}
	return claims, nil
}

// claimLiteralMax is the largest claim limit written as it is.
const claimLiteralMax = 32

// claimPiece returns how many of left instances one claim statement asks
// for: left itself up to claimLiteralMax, else the largest power of two
// not above it.
func claimPiece(left int) int {
	if left <= claimLiteralMax {
		return left
	}
	n := claimLiteralMax
	for n*2 <= left {
		n *= 2
	}
	return n
}

func (db *DB) claimStatement(ctx context.Context, p *store.InstanceClaimParams, limit int) ([]*store.Claim, error) {
	claims, err := db.claimRows(p, limit, db.now(), func(q string, args ...any) (*sql.Rows, error) {
		return db.claim.QueryContext(ctx, db.q(q), args...)
	})
	if len(claims) > 0 {
		db.committed([]store.Topic{store.TopicInstances})
	}
	return claims, err
}

// claimRows runs the one-statement claim of up to limit instances through
// query, as of now, and reads its claims.
func (db *DB) claimRows(p *store.InstanceClaimParams, limit int, now time.Time, query func(q string, args ...any) (*sql.Rows, error)) ([]*store.Claim, error) {
	expires := now.Add(p.LeaseDuration)
	labels, labelArgs := labelFilter(p.Labels)
	args := append([]any{us(now)}, labelArgs...)
	args = append(args, us(now), us(now), p.Worker, us(expires), us(now))
	// The limit is written into the statement, not bound: a statement per
	// limit, each with one plan that PostgreSQL can keep (its generic plan
	// of LIMIT $n guesses hundreds of rows and scans every instance; see
	// postgres.Open).
	rows, err := query(`WITH picked AS (
			SELECT id FROM task_instances
			WHERE `+claimable+` AND ready_at <= ? AND NOT limited AND `+labels+`
			ORDER BY priority DESC, ready_at, id
			LIMIT `+strconv.Itoa(limit)+db.d.SkipLocked+`
		), claimed AS (
			UPDATE task_instances ti
			SET state = 'running', attempts = ti.attempts + 1, started_at = COALESCE(ti.started_at, ?), updated_at = ?, blocked = ''
			FROM picked WHERE ti.id = picked.id
			RETURNING ti.id, ti.run_id, ti.task_id, ti.map_index, ti.item, ti.attempts, ti.failures, ti.started_at, ti.ready_at, ti.up_total
		), inserted AS (
			INSERT INTO attempts (instance_id, run_id, task_id, number, worker, token, state, lease_expires_at, started_at)
			SELECT id, run_id, task_id, attempts, ?, `+db.d.RandomToken+`, 'running', ?, ? FROM claimed
			RETURNING id, instance_id, token
		)
		SELECT i.id, i.token, c.id, c.run_id, c.task_id, c.map_index, c.item, c.attempts, c.failures, c.started_at, c.ready_at,
			r.pipeline_id, r.version_id, r.key, r.logical_date, r.params, r.trigger_events,
			CASE WHEN c.up_total > 0 THEN `+db.upstreamOutputs("c", "r")+` END
		FROM inserted i JOIN claimed c ON c.id = i.instance_id JOIN runs r ON r.id = c.run_id
		ORDER BY c.id`, args...) // only instances without a pool: Claim.Pool stays empty
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var claims []*store.Claim
	for rows.Next() {
		c := &store.Claim{StartedAt: now, LeaseExpiresAt: expires}
		var readyAt, logical, started int64
		var params, trig string
		var item, outs sql.NullString
		if err := rows.Scan(&c.AttemptID, &c.Token, &c.InstanceID, &c.RunID, &c.TaskID, &c.MapIndex, &item, &c.Attempt, &c.Failures, &started, &readyAt,
			&c.PipelineID, &c.VersionID, &c.RunKey, &logical, &params, &trig, &outs); err != nil {
			return nil, dbErr(err)
		}
		var err error
		if c.Outputs, err = decodeUpstreamOutputs(outs); err != nil {
			return nil, err
		}
		if item.Valid {
			c.Item = &item.String
		}
		c.ReadyAt, c.LogicalDate, c.Params, c.FirstStartedAt = fromUS(readyAt), fromUS(logical), []byte(params), fromUS(started)
		c.TriggerEvents = triggerEventsOf(trig)
		claims = append(claims, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	return claims, nil
}
