package sqlstore

import (
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// finisher moves task instances to their next state inside one
// transaction: retries, final states, readiness of downstream instances,
// and the end of runs whose last instance finished.
//
// It works on sets: a batch of completions costs a handful of statements,
// not a handful per completion. That matters most on PostgreSQL, where each
// statement is a round trip, and where the rows every completion of a
// fan-out touches (the join's counters, the run's) stay locked for the
// transaction: the shorter it is, the less completions wait on each other.
type finisher struct {
	t    *txn
	runs map[int64]*runAcct
	// settle is the run whose count of unfinished instances the first
	// statement of propagate subtracts from too (PostgreSQL, one run);
	// 0 for none.
	settle int64
	// final holds instances that reached a final state and whose
	// downstream instances have not heard of it yet, by state.
	final map[sluice.InstanceState][]runTask
	// produced holds the instances of tasks that produce assets and
	// succeeded (CallbackProduces), for produceAssets.
	produced []int64
}

type runAcct struct {
	finished int // instances that reached a final state in this txn
	// told is how many of them the run's count of unfinished instances
	// had subtracted already, and counted what it returned.
	told    int
	counted *runCounted
}

// runCounted is what subtracting finished instances from a run's count
// of unfinished ones returns (runCountedColumns).
type runCounted struct {
	unfinished, callbacks         int
	pipelineID, state, kind, task string
	parentRun                     sql.NullInt64
}

const runCountedColumns = `unfinished, pipeline_id, state, callbacks, parent_run_id, parent_task, kind`

type runTask struct {
	runID  int64
	taskID string
}

func newFinisher(t *txn) *finisher {
	return &finisher{t: t, runs: map[int64]*runAcct{}, final: map[sluice.InstanceState][]runTask{}}
}

func (f *finisher) acct(runID int64) *runAcct {
	a := f.runs[runID]
	if a == nil {
		a = &runAcct{}
		f.runs[runID] = a
	}
	return a
}

// unfinishedStates lists the states an instance can leave for a final one.
const unfinishedStates = `('pending', 'queued', 'up_for_retry', 'running')`

// unfinished is the condition that an instance is in one of
// unfinishedStates, as finish checks it on every completion: for an IN
// list of three or more constants SQLite builds a temporary table on
// every run of the statement, where it compares an OR's terms in place.
const unfinished = `(state = 'pending' OR state = 'queued' OR state = 'up_for_retry' OR state = 'running')`

// fail records a failed attempt of a running instance: it retries when the
// policy allows, and fails the instance otherwise.
func (f *finisher) fail(instanceID int64) error {
	t := f.t
	var (
		state               string
		failures, retries   int
		delayUS, maxDelayUS int64
		exponential         bool
	)
	err := t.queryRow(`SELECT state, failures, retries, retry_delay_us, retry_exponential, max_retry_delay_us
		FROM task_instances WHERE id = ?`+t.db.d.ForUpdate, instanceID).
		Scan(&state, &failures, &retries, &delayUS, &exponential, &maxDelayUS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if sluice.InstanceState(state) != sluice.InstanceRunning {
		return nil // cancelled or otherwise moved on meanwhile
	}
	failures++
	policy := sluice.RetryPolicy{
		Retries:     retries,
		Delay:       time.Duration(delayUS) * time.Microsecond,
		Exponential: exponential,
		MaxDelay:    time.Duration(maxDelayUS) * time.Microsecond,
	}
	if retry, delay := policy.Next(failures, retryJitter()); retry {
		now := us(t.now)
		var (
			runID                     int64
			mapIndex, attempt, callbk int
			taskID                    string
		)
		if err := t.queryRow(`UPDATE task_instances SET state = ?, failures = ?, ready_at = ?, updated_at = ? WHERE id = ?
			RETURNING run_id, task_id, map_index, attempts, callbacks`,
			string(sluice.InstanceUpForRetry), failures, us(t.now.Add(delay)), now, instanceID).Scan(&runID, &taskID, &mapIndex, &attempt, &callbk); err != nil {
			return err
		}
		if callbk&store.CallbackRetry != 0 {
			if err := addCallback(t, runID, taskID, mapIndex, attempt, "retry"); err != nil {
				return err
			}
		}
		t.notify(store.TopicReady)
		t.notify(store.TopicInstances)
		return nil
	}
	if _, err := t.exec(`UPDATE task_instances SET failures = ? WHERE id = ?`, failures, instanceID); err != nil {
		return err
	}
	return f.finish([]int64{instanceID}, sluice.InstanceFailed)
}

// finish puts unfinished instances in a final state. Their downstream
// instances hear of it in done.
func (f *finisher) finish(ids []int64, state sluice.InstanceState) error {
	t := f.t
	for _, part := range chunks(sortedIDs(ids), maxBatch) {
		part = padIDs(part)
		args := append([]any{string(state), us(t.now), us(t.now)}, int64Args(part)...)
		rows, err := t.query(`UPDATE task_instances SET state = ?, finished_at = ?, updated_at = ?
			WHERE id IN (`+placeholders(len(part))+`) AND `+unfinished+`
			RETURNING `+finishedColumns, args...)
		if err != nil {
			return err
		}
		var done []finishedRow
		for rows.Next() {
			var r finishedRow
			if err := rows.Scan(r.dest()...); err != nil {
				rows.Close()
				return err
			}
			done = append(done, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := f.finished(done, state); err != nil {
			return err
		}
	}
	return nil
}

// finishedColumns are what an instance that reached a final state returns
// for finished, read into a finishedRow.
const finishedColumns = `id, run_id, task_id, map_index, parent_id, callbacks, attempts, limited, allow_failure`

type finishedRow struct {
	id                 int64
	rt                 runTask
	mapIndex, attempts int
	parent             sql.NullInt64
	callbacks          int
	limited, allowed   bool
}

// dest returns where to scan finishedColumns.
func (r *finishedRow) dest() []any {
	return []any{&r.id, &r.rt.runID, &r.rt.taskID, &r.mapIndex, &r.parent, &r.callbacks, &r.attempts, &r.limited, &r.allowed}
}

// finished takes note of instances that reached state (finish's, or the
// successes fenceAndFinish finished with their attempts): their runs'
// counts, their downstream instances to tell, their callbacks, and their
// mapped tasks' counts of items.
func (f *finisher) finished(done []finishedRow, state sluice.InstanceState) error {
	t := f.t
	items := map[int64]int{} // mapped task instance -> its items that finished
	for _, e := range done {
		if e.limited {
			t.notify(store.TopicReady) // a pool slot or a parallel place is free
		}
		f.acct(e.rt.runID).finished++
		if e.parent.Valid {
			items[e.parent.Int64]++ // an item: its mapped task propagates
		} else if state == sluice.InstanceFailed && e.allowed {
			f.final[failedAllowed] = append(f.final[failedAllowed], e.rt)
		} else {
			f.final[state] = append(f.final[state], e.rt)
			if state == sluice.InstanceSuccess && e.callbacks&store.CallbackProduces != 0 {
				f.produced = append(f.produced, e.id)
			}
		}
	}
	t.notify(store.TopicInstances)
	for _, e := range done {
		if bit, event := callbackOf(state); bit != 0 && e.callbacks&bit != 0 {
			if err := addCallback(t, e.rt.runID, e.rt.taskID, e.mapIndex, e.attempts, event); err != nil {
				return err
			}
		}
	}
	return f.itemsFinished(items, state)
}

func callbackOf(state sluice.InstanceState) (int, string) {
	switch state {
	case sluice.InstanceSuccess:
		return store.CallbackSuccess, "success"
	case sluice.InstanceFailed:
		return store.CallbackFailure, "failure"
	}
	return 0, ""
}

// itemsFinished counts finished items on their mapped tasks, and finishes
// a mapped task when its last item has: failed if an item failed, skipped
// if all were skipped, success otherwise.
func (f *finisher) itemsFinished(items map[int64]int, state sluice.InstanceState) error {
	col := map[sluice.InstanceState]string{
		sluice.InstanceSuccess: "items_success", sluice.InstanceSkipped: "items_skipped",
		sluice.InstanceFailed: "items_failed", sluice.InstanceUpstreamFailed: "items_failed", sluice.InstanceCancelled: "items_failed",
	}[state]
	if col == "" {
		return nil
	}
	done := map[sluice.InstanceState][]int64{}
	for _, id := range sortedIDs(keys(items)) {
		var total, ok, failed, skipped int
		if err := f.t.queryRow(`UPDATE task_instances SET `+col+` = `+col+` + ? WHERE id = ?
			RETURNING items_total, items_success, items_failed, items_skipped`, items[id], id).Scan(&total, &ok, &failed, &skipped); err != nil {
			return err
		}
		if ok+failed+skipped < total {
			continue
		}
		switch {
		case failed > 0:
			done[sluice.InstanceFailed] = append(done[sluice.InstanceFailed], id)
		case skipped == total:
			done[sluice.InstanceSkipped] = append(done[sluice.InstanceSkipped], id)
		default:
			done[sluice.InstanceSuccess] = append(done[sluice.InstanceSuccess], id)
		}
	}
	for _, s := range []sluice.InstanceState{sluice.InstanceSuccess, sluice.InstanceFailed, sluice.InstanceSkipped} {
		if ids := done[s]; len(ids) > 0 {
			if err := f.finish(ids, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// addCallback queues a callback for a worker to run.
func addCallback(t *txn, runID int64, taskID string, mapIndex, attempt int, event string) error {
	_, err := t.exec(`INSERT INTO callbacks (run_id, task_id, map_index, attempt, event, state, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
		runID, taskID, mapIndex, attempt, event, us(t.now))
	t.notify(store.TopicCallbacks)
	return err
}

// failedAllowed is how finish files the failure of an instance that
// allows failure, for propagate to count it apart. It is never stored:
// the instance's state is failed.
const failedAllowed sluice.InstanceState = "failed (allowed)"

// upstreamColumn is the counter of downstream instances that an upstream
// final state increments.
var upstreamColumn = map[sluice.InstanceState]string{
	sluice.InstanceSuccess:        "up_success",
	sluice.InstanceFailed:         "up_failed",
	failedAllowed:                 "up_allowed_failed",
	sluice.InstanceUpstreamFailed: "up_upstream_failed",
	sluice.InstanceSkipped:        "up_skipped",
}

// propagate tells the downstream instances of every instance that became
// final about it, queues those that may now run, and finishes those that
// never will (skipped, upstream_failed), following on to their own
// downstream until nothing changes.
func (f *finisher) propagate() error {
	for {
		var (
			state sluice.InstanceState
			batch []runTask
		)
		for s, l := range f.final {
			if len(l) > 0 {
				state, batch = s, l
				break
			}
		}
		if batch == nil {
			return nil
		}
		f.final[state] = nil
		col, ok := upstreamColumn[state]
		if !ok {
			continue // cancelled instances do not propagate
		}
		for _, part := range chunks(batch, maxBatch) {
			if err := f.propagateChunk(col, part); err != nil {
				return err
			}
		}
	}
}

func (f *finisher) propagateChunk(col string, part []runTask) error {
	t := f.t
	var values strings.Builder
	args := []any{us(t.now)}
	for i := 0; i < padded(len(part)); i++ {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT))")
		if i < len(part) {
			args = append(args, part[i].runID, part[i].taskID)
		} else {
			args = append(args, int64(0), "") // padding: no run has id 0
		}
	}
	// The increments are counted first (one per finished upstream), then
	// added under the row lock, so concurrent transactions add up right.
	// The downstream instances are found through the edges and the
	// (run_id, task_id) key: CROSS JOIN fixes that order in SQLite, and
	// "state || ''" keeps it from picking the (run_id, state) index, which
	// would visit every pending instance of the run on every hop (a chain
	// of N tasks then costs N² row visits). PostgreSQL plans both forms
	// alike.
	joins := `CROSS JOIN runs r CROSS JOIN version_edges e CROSS JOIN task_instances ti
			WHERE r.id = f.column1 AND e.version_id = r.version_id AND e.upstream = f.column2
				AND ti.run_id = f.column1 AND ti.task_id = e.downstream AND ti.state || '' = 'pending'`
	if t.db.d.Lateral {
		// PostgreSQL reorders joins by its estimates, and two of them go
		// wrong here (auto_explain of a 10,000-task fan-out): with no
		// statistics of runs (a small table autovacuum may not have
		// analyzed yet) it expects a run to have a handful of
		// instances and looks them up by run_id alone, reading all
		// 10,000 for every finished task; and for a batch of 32 or more
		// it reads all of the version's edges into a hash table instead
		// of looking up each finished task's. Subqueries fenced with
		// OFFSET 0 are planned on their own, for one row of the outer
		// side at a time, so each uses its key.
		joins = `CROSS JOIN runs r
			CROSS JOIN LATERAL (SELECT e.downstream FROM version_edges e
				WHERE e.version_id = r.version_id AND e.upstream = f.column2 OFFSET 0) e
			CROSS JOIN LATERAL (SELECT ti.id FROM task_instances ti
				WHERE ti.run_id = f.column1 AND ti.task_id = e.downstream AND ti.state || '' = 'pending' OFFSET 0) ti
			WHERE r.id = f.column1`
	}
	// A success (allowed failures count as one) that makes an all_success
	// instance ready queues it in this statement, as the next hop of
	// most chains, rather than in one of apply's own: a round trip less
	// per hop on PostgreSQL. The condition is sluice.AllSuccess's in
	// TriggerRule.Decide, on the counters after the increment (SET sees
	// them before it); the rows it queued come back queued and are not
	// decided again.
	queue := ""
	if col == "up_success" || col == "up_allowed_failed" {
		ready := `trigger_rule IN ('', '` + string(sluice.AllSuccess) + `') AND up_failed = 0 AND up_upstream_failed = 0 AND up_skipped = 0
			AND up_success + up_allowed_failed + inc.inc_n >= up_total`
		queue = `, state = CASE WHEN ` + ready + ` THEN 'queued' ELSE state END,
			ready_at = CASE WHEN ` + ready + ` THEN ? ELSE ready_at END`
		args = append([]any{us(t.now), us(t.now)}, args[1:]...)
	}
	update := `UPDATE task_instances SET ` + col + ` = ` + col + ` + inc.inc_n, updated_at = ?` + queue + `
		FROM (
			SELECT ti.id AS inc_id, COUNT(*) AS inc_n
			FROM (VALUES ` + values.String() + `) AS f
			` + joins + `
			GROUP BY ti.id
		) AS inc
		WHERE id = inc.inc_id AND state = 'pending'
		RETURNING id, state, trigger_rule, up_total, up_success, up_failed, up_upstream_failed, up_skipped, up_allowed_failed`
	if f.settle != 0 {
		return f.propagateSettling(update, args)
	}
	rows, err := t.query(update, args...)
	if err != nil {
		return err
	}
	decided, queued, err := decideRows(rows)
	if err != nil {
		return err
	}
	t.ready(queued)
	return f.apply(decided)
}

// propagateSettling runs update, propagate's statement, together with the
// subtraction of f.settle's finished instances from its count of
// unfinished ones, which done would make next: a round trip less per
// completion transaction (a chain's hop on four worker processes: p50
// 0.775 → 0.666 ms). The rows both lock, the join's counters in a fan-out
// and the run's count, are what every completion of the run writes; each
// transaction holds them until it commits, so the others wait for every
// round trip between the first of those writes and the commit. Together
// they are one statement, and the commit follows it at once unless
// something finished too.
//
// The subtraction's condition reads update's rows, so update has run,
// and taken its locks, before it: the order of every other completion.
func (f *finisher) propagateSettling(update string, args []any) error {
	t, runID := f.t, f.settle
	f.settle = 0
	a := f.runs[runID]
	n := a.finished - a.told
	rows, err := t.query(`WITH u AS (`+update+`), r AS (
			UPDATE runs SET unfinished = unfinished - ? WHERE id = ? AND (SELECT COUNT(*) FROM u) >= 0
			RETURNING `+runCountedColumns+`)
		SELECT u.*, r.* FROM (VALUES (1)) AS one (x) LEFT JOIN u ON TRUE LEFT JOIN r ON TRUE`, append(args, n, runID)...)
	if err != nil {
		return err
	}
	var (
		d       = newDecisions()
		counted *runCounted
	)
	for rows.Next() {
		var (
			id                                sql.NullInt64
			state, rule                       sql.NullString
			tot, ok, failed, upf, skip, allow sql.NullInt64
			unfinished, callbacks, parentRun  sql.NullInt64
			pipelineID, runState, task, kind  sql.NullString
		)
		if err := rows.Scan(&id, &state, &rule, &tot, &ok, &failed, &upf, &skip, &allow,
			&unfinished, &pipelineID, &runState, &callbacks, &parentRun, &task, &kind); err != nil {
			rows.Close()
			return err
		}
		if id.Valid {
			d.add(id.Int64, state.String, rule.String, sluice.Upstream{Total: int(tot.Int64), Success: int(ok.Int64), Failed: int(failed.Int64),
				UpstreamFailed: int(upf.Int64), Skipped: int(skip.Int64), AllowedFailed: int(allow.Int64)})
		}
		if unfinished.Valid && counted == nil {
			counted = &runCounted{unfinished: int(unfinished.Int64), callbacks: int(callbacks.Int64), pipelineID: pipelineID.String,
				state: runState.String, kind: kind.String, task: task.String, parentRun: parentRun}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if counted != nil { // else no such run: done's own statement reports it
		a.told += n
		a.counted = counted
	}
	t.ready(d.queued)
	return f.apply(d.decided)
}

// decideRows reads (id, state, trigger_rule, up_total, up_success,
// up_failed, up_upstream_failed, up_skipped, up_allowed_failed) rows and
// decides each pending instance; it returns those already queued apart.
func decideRows(rows *sql.Rows) (decided map[sluice.InstanceState][]int64, queued []int64, err error) {
	defer rows.Close()
	d := newDecisions()
	for rows.Next() {
		var (
			id          int64
			state, rule string
			u           sluice.Upstream
		)
		if err := rows.Scan(&id, &state, &rule, &u.Total, &u.Success, &u.Failed, &u.UpstreamFailed, &u.Skipped, &u.AllowedFailed); err != nil {
			return nil, nil, err
		}
		d.add(id, state, rule, u)
	}
	return d.decided, d.queued, rows.Err()
}

// decisions are what propagated counters decide: the instances to queue
// or finish by state, and apart those the statement queued already.
type decisions struct {
	decided map[sluice.InstanceState][]int64
	queued  []int64
}

func newDecisions() *decisions {
	return &decisions{decided: map[sluice.InstanceState][]int64{}}
}

func (d *decisions) add(id int64, state, rule string, u sluice.Upstream) {
	if sluice.InstanceState(state) == sluice.InstanceQueued {
		d.queued = append(d.queued, id)
		return
	}
	if next := sluice.TriggerRule(rule).Decide(u); next != sluice.InstancePending {
		d.decided[next] = append(d.decided[next], id)
	}
}

// decide looks at pending instances whose counters were set otherwise
// than by propagation (after a reset) and moves on those that may run or
// never will.
func (f *finisher) decide(ids []int64) error {
	for _, part := range chunks(sortedIDs(ids), maxBatch) {
		part = padIDs(part)
		rows, err := f.t.query(`SELECT id, state, trigger_rule, up_total, up_success, up_failed, up_upstream_failed, up_skipped, up_allowed_failed
			FROM task_instances WHERE id IN (`+placeholders(len(part))+`) AND state = 'pending'`, int64Args(part)...)
		if err != nil {
			return err
		}
		decided, _, err := decideRows(rows) // all pending
		if err != nil {
			return err
		}
		if err := f.apply(decided); err != nil {
			return err
		}
	}
	return nil
}

// apply queues the instances decided ready and finishes those decided
// skipped or upstream_failed.
func (f *finisher) apply(decided map[sluice.InstanceState][]int64) error {
	t := f.t
	if ready := decided[sluice.InstanceQueued]; len(ready) > 0 {
		for _, ids := range chunks(sortedIDs(ready), maxBatch) {
			ids = padIDs(ids)
			args := append([]any{us(t.now), us(t.now)}, int64Args(ids)...)
			if _, err := t.exec(`UPDATE task_instances SET state = 'queued', ready_at = ?, updated_at = ?
				WHERE id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
				return err
			}
		}
		t.ready(ready)
	}
	for _, s := range []sluice.InstanceState{sluice.InstanceSkipped, sluice.InstanceUpstreamFailed} {
		if ids := decided[s]; len(ids) > 0 {
			if err := f.finish(ids, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// done propagates final states and settles the runs touched by the
// transaction: a run whose last instance finished ends, and its pipeline
// may start a queued run.
func (f *finisher) done() error {
	t := f.t
	ids := make([]int64, 0, len(f.runs))
	for id, a := range f.runs {
		if a.finished > 0 {
			ids = append(ids, id)
		}
	}
	if t.db.d.WritableCTE && len(ids) == 1 {
		// With more runs, one statement would lock their rows in no
		// set order; done's own statements lock them in id order.
		f.settle = ids[0]
	}
	if err := f.propagate(); err != nil {
		return err
	}
	f.settle = 0
	for id, a := range f.runs { // what propagation finished
		if a.finished > 0 && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := f.runs[id]
		c := a.counted
		if n := a.finished - a.told; n > 0 {
			c = &runCounted{}
			err := t.queryRow(`UPDATE runs SET unfinished = unfinished - ? WHERE id = ?
				RETURNING `+runCountedColumns, n, id).Scan(&c.unfinished, &c.pipelineID, &c.state, &c.callbacks, &c.parentRun, &c.task, &c.kind)
			if err != nil {
				return err
			}
			a.told, a.counted = a.finished, c
		}
		unfinished, pipelineID, state, callbacks, kind := c.unfinished, c.pipelineID, c.state, c.callbacks, c.kind
		parentRun, parentTask := c.parentRun, c.task
		if unfinished > 0 || sluice.RunState(state) != sluice.RunRunning {
			continue
		}
		var failed int
		// A failure the task allows does not count (and nothing is
		// upstream_failed by it: the rules that do not wait for a
		// failure see it as a success).
		if err := t.queryRow(`SELECT COUNT(*) FROM task_instances WHERE run_id = ? AND state IN ('failed', 'upstream_failed') AND NOT allow_failure`,
			id).Scan(&failed); err != nil {
			return err
		}
		final := sluice.RunSuccess
		if failed > 0 {
			final = sluice.RunFailed
		}
		if _, err := t.exec(`UPDATE runs SET state = ?, finished_at = ? WHERE id = ?`, string(final), us(t.now), id); err != nil {
			return err
		}
		t.runEvent(pipelineID, kind, final)
		t.notify(store.TopicRuns)
		if bit, event := callbackOf(sluice.InstanceState(final)); callbacks&bit != 0 {
			if err := addCallback(t, id, "", -1, 0, event); err != nil {
				return err
			}
		}
		if parentRun.Valid {
			// The pipeline: task waiting for this run checks it now.
			if _, err := t.exec(`UPDATE task_instances SET ready_at = ? WHERE run_id = ? AND task_id = ? AND state = 'up_for_reschedule'`,
				us(t.now), parentRun.Int64, parentTask); err != nil {
				return err
			}
			t.notify(store.TopicReady)
		}
		var maxActive int
		if err := t.queryRow(`SELECT max_active_runs FROM pipelines WHERE id = ?`+t.db.d.ForPipeline, pipelineID).Scan(&maxActive); err != nil {
			return err
		}
		if _, err := startQueued(t, pipelineID, maxActive); err != nil {
			return err
		}
	}
	return nil
}

func sortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// maxBatch is the most rows one statement handles.
const maxBatch = 256

// padded returns the size a list of n values is padded to: the next power
// of two. Statements are prepared and planned once per distinct text, on
// every connection; padding keeps a batch statement to nine texts instead
// of one per batch size.
func padded(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// padIDs pads ids for an IN list by repeating the last one.
func padIDs(ids []int64) []int64 {
	out := ids
	for len(out) < padded(len(ids)) {
		out = append(out, ids[len(ids)-1])
	}
	return out
}

// chunks splits s into parts of at most n.
func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}
