package sqlstore

import (
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// finisher moves task instances to their next state inside one
// transaction: retries, final states, readiness of downstream instances,
// and the end of runs whose last instance finished.
type finisher struct {
	t    *txn
	runs map[int64]*runAcct
}

type runAcct struct {
	versionID int64 // 0 until needed
	finished  int   // instances that reached a final state in this txn
}

func newFinisher(t *txn) *finisher { return &finisher{t: t, runs: map[int64]*runAcct{}} }

func (f *finisher) acct(runID int64) *runAcct {
	a := f.runs[runID]
	if a == nil {
		a = &runAcct{}
		f.runs[runID] = a
	}
	return a
}

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
		if _, err := t.exec(`UPDATE task_instances SET state = ?, failures = ?, ready_at = ?, updated_at = ? WHERE id = ?`,
			string(sluice.InstanceUpForRetry), failures, us(t.now.Add(delay)), now, instanceID); err != nil {
			return err
		}
		t.notify(store.TopicReady)
		t.notify(store.TopicInstances)
		return nil
	}
	if _, err := t.exec(`UPDATE task_instances SET failures = ? WHERE id = ?`, failures, instanceID); err != nil {
		return err
	}
	return f.finish(instanceID, sluice.InstanceFailed)
}

// finish puts an unfinished instance in a final state and decides what
// that means for its downstream instances.
func (f *finisher) finish(instanceID int64, state sluice.InstanceState) error {
	t := f.t
	var (
		runID  int64
		taskID string
	)
	err := t.queryRow(`UPDATE task_instances SET state = ?, finished_at = ?, updated_at = ?
		WHERE id = ? AND state IN (?, ?, ?, ?) RETURNING run_id, task_id`,
		string(state), us(t.now), us(t.now), instanceID,
		string(sluice.InstancePending), string(sluice.InstanceQueued), string(sluice.InstanceUpForRetry), string(sluice.InstanceRunning)).
		Scan(&runID, &taskID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // already final
	}
	if err != nil {
		return err
	}
	f.acct(runID).finished++
	t.notify(store.TopicInstances)
	return f.propagate(runID, taskID, state)
}

// upstreamColumn is the counter of downstream instances that an upstream
// final state increments.
var upstreamColumn = map[sluice.InstanceState]string{
	sluice.InstanceSuccess:        "up_success",
	sluice.InstanceFailed:         "up_failed",
	sluice.InstanceUpstreamFailed: "up_upstream_failed",
	sluice.InstanceSkipped:        "up_skipped",
}

type finished struct {
	taskID string
	state  sluice.InstanceState
}

// propagate tells the downstream instances of a finished task about its
// state, queues those that may now run, and finishes those that never will
// (skipped, upstream_failed), following on to their own downstream.
func (f *finisher) propagate(runID int64, taskID string, state sluice.InstanceState) error {
	t := f.t
	acct := f.acct(runID)
	if acct.versionID == 0 {
		if err := t.queryRow(`SELECT version_id FROM runs WHERE id = ?`, runID).Scan(&acct.versionID); err != nil {
			return err
		}
	}
	queue := []finished{{taskID, state}}
	for len(queue) > 0 {
		up := queue[0]
		queue = queue[1:]
		col, ok := upstreamColumn[up.state]
		if !ok {
			continue // cancelled instances do not propagate
		}
		rows, err := t.query(`UPDATE task_instances SET `+col+` = `+col+` + 1, updated_at = ?
			WHERE run_id = ? AND state = ? AND task_id IN (
				SELECT downstream FROM version_edges WHERE version_id = ? AND upstream = ?)
			RETURNING id, task_id, trigger_rule, up_total, up_success, up_failed, up_upstream_failed, up_skipped`,
			us(t.now), runID, string(sluice.InstancePending), acct.versionID, up.taskID)
		if err != nil {
			return err
		}
		type decided struct {
			id     int64
			taskID string
			state  sluice.InstanceState
		}
		var next []decided
		for rows.Next() {
			var (
				d    decided
				rule string
				u    sluice.Upstream
			)
			if err := rows.Scan(&d.id, &d.taskID, &rule, &u.Total, &u.Success, &u.Failed, &u.UpstreamFailed, &u.Skipped); err != nil {
				rows.Close()
				return err
			}
			d.state = sluice.TriggerRule(rule).Decide(u)
			if d.state != sluice.InstancePending {
				next = append(next, d)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slices.SortFunc(next, func(a, b decided) int { return int(a.id - b.id) })
		for _, d := range next {
			if d.state == sluice.InstanceQueued {
				if _, err := t.exec(`UPDATE task_instances SET state = ?, ready_at = ?, updated_at = ? WHERE id = ?`,
					string(sluice.InstanceQueued), us(t.now), us(t.now), d.id); err != nil {
					return err
				}
				t.notify(store.TopicReady)
				continue
			}
			if _, err := t.exec(`UPDATE task_instances SET state = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
				string(d.state), us(t.now), us(t.now), d.id); err != nil {
				return err
			}
			acct.finished++
			queue = append(queue, finished{d.taskID, d.state})
		}
	}
	return nil
}

// done settles the runs touched by the transaction: a run whose last
// instance finished ends, and its pipeline may start a queued run.
func (f *finisher) done() error {
	t := f.t
	ids := make([]int64, 0, len(f.runs))
	for id, a := range f.runs {
		if a.finished > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		var (
			unfinished int
			pipelineID string
			state      string
		)
		err := t.queryRow(`UPDATE runs SET unfinished = unfinished - ? WHERE id = ? RETURNING unfinished, pipeline_id, state`,
			f.runs[id].finished, id).Scan(&unfinished, &pipelineID, &state)
		if err != nil {
			return err
		}
		if unfinished > 0 || sluice.RunState(state) != sluice.RunRunning {
			continue
		}
		var failed int
		if err := t.queryRow(`SELECT COUNT(*) FROM task_instances WHERE run_id = ? AND state IN (?, ?)`,
			id, string(sluice.InstanceFailed), string(sluice.InstanceUpstreamFailed)).Scan(&failed); err != nil {
			return err
		}
		final := sluice.RunSuccess
		if failed > 0 {
			final = sluice.RunFailed
		}
		if _, err := t.exec(`UPDATE runs SET state = ?, finished_at = ? WHERE id = ?`, string(final), us(t.now), id); err != nil {
			return err
		}
		t.notify(store.TopicRuns)
		var maxActive int
		if err := t.queryRow(`SELECT max_active_runs FROM pipelines WHERE id = ?`+t.db.d.ForUpdate, pipelineID).Scan(&maxActive); err != nil {
			return err
		}
		if _, err := startQueued(t, pipelineID, maxActive); err != nil {
			return err
		}
	}
	return nil
}
