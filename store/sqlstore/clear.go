package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// A clear or a mark with options selects instances across tasks and runs
// in the transaction that changes them, so what a dry run lists is what
// the same request would change if nothing moved in between, and two
// requests never interleave on a run.

// selectedRun is one run a selection touches, with its version's edges.
type selectedRun struct {
	id, versionID int64
	logical       int64
	tasks         []string // the tasks selected in it, in dependency order
}

// selectRuns resolves a selection to runs and task ids: the run itself
// and, with Past/Future, the pipeline's other started runs before or
// after it (by logical date), each with the chosen tasks that its version
// has plus their downstream/upstream.
func selectRuns(t *txn, s *store.Selection) ([]*selectedRun, error) {
	if len(s.TaskIDs) == 0 {
		return nil, sluice.Errorf(sluice.EINVALID, "name at least one task")
	}
	var (
		pipelineID string
		versionID  int64
		logical    int64
	)
	if err := t.queryRow(`SELECT pipeline_id, version_id, logical_date FROM runs WHERE id = ?`, s.RunID).Scan(&pipelineID, &versionID, &logical); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sluice.Errorf(sluice.ENOTFOUND, "run %d not found", s.RunID)
		}
		return nil, err
	}
	own, err := versionTaskSet(t, versionID)
	if err != nil {
		return nil, err
	}
	for _, id := range s.TaskIDs {
		if !own[id] {
			return nil, sluice.Errorf(sluice.ENOTFOUND, "task %q not found in run %d", id, s.RunID)
		}
	}
	runs := []*selectedRun{{id: s.RunID, versionID: versionID, logical: logical}}
	other := func(cond string) error {
		rows, err := t.query(`SELECT id, version_id, logical_date FROM runs WHERE pipeline_id = ? AND id <> ? AND state <> 'queued' AND `+cond+`
			ORDER BY logical_date, id LIMIT ?`, pipelineID, s.RunID, logical, store.MaxRunsSelected+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := &selectedRun{}
			if err := rows.Scan(&r.id, &r.versionID, &r.logical); err != nil {
				return err
			}
			runs = append(runs, r)
		}
		return rows.Err()
	}
	if s.Past {
		if err := other(`logical_date < ?`); err != nil {
			return nil, err
		}
	}
	if s.Future {
		if err := other(`logical_date > ?`); err != nil {
			return nil, err
		}
	}
	if len(runs) > store.MaxRunsSelected {
		return nil, sluice.Errorf(sluice.EINVALID, "the selection spans more than %d runs: choose past or future, not both, or clear from a nearer run", store.MaxRunsSelected)
	}
	edges := map[int64]map[string][]string{} // version -> upstream -> downstream
	for _, r := range runs {
		down, ok := edges[r.versionID]
		if !ok {
			if down, err = versionEdges(t, r.versionID); err != nil {
				return nil, err
			}
			edges[r.versionID] = down
		}
		tasks, err := versionTaskSet(t, r.versionID)
		if err != nil {
			return nil, err
		}
		chosen := map[string]bool{}
		for _, id := range s.TaskIDs {
			if tasks[id] {
				chosen[id] = true
			}
		}
		if s.Downstream {
			walk(chosen, down)
		}
		if s.Upstream {
			up := map[string][]string{}
			for u, ds := range down {
				for _, d := range ds {
					up[d] = append(up[d], u)
				}
			}
			walk(chosen, up)
		}
		// The tasks in dependency order, as the run page lists them: a
		// preview reads as the order they will run again in.
		for _, id := range sluice.TopoOrder(tasks, down) {
			if chosen[id] {
				r.tasks = append(r.tasks, id)
			}
		}
	}
	slices.SortFunc(runs, func(a, b *selectedRun) int {
		if a.logical != b.logical {
			return compareInt(a.logical, b.logical)
		}
		return compareInt(a.id, b.id)
	})
	return runs, nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// walk adds to set every task reachable from it through next.
func walk(set map[string]bool, next map[string][]string) {
	queue := make([]string, 0, len(set))
	for id := range set {
		queue = append(queue, id)
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, n := range next[cur] {
			if !set[n] {
				set[n] = true
				queue = append(queue, n)
			}
		}
	}
}

func versionTaskSet(t *txn, versionID int64) (map[string]bool, error) {
	rows, err := t.query(`SELECT task_id FROM version_tasks WHERE version_id = ?`, versionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func versionEdges(t *txn, versionID int64) (map[string][]string, error) {
	rows, err := t.query(`SELECT upstream, downstream FROM version_edges WHERE version_id = ?`, versionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	down := map[string][]string{}
	for rows.Next() {
		var u, d string
		if err := rows.Scan(&u, &d); err != nil {
			return nil, err
		}
		down[u] = append(down[u], d)
	}
	return down, rows.Err()
}

// selectedInstance is an instance of a selected run and task.
type selectedInstance struct {
	id    int64
	task  string
	state sluice.InstanceState
}

// instancesOf returns the task instances (not items) of tasks in a run,
// in the order of tasks, locked: a completion that would race the change
// waits for it.
func instancesOf(t *txn, runID int64, tasks []string) ([]selectedInstance, error) {
	var out []selectedInstance
	for _, part := range chunks(tasks, maxBatch) {
		rows, err := t.query(`SELECT id, task_id, state FROM task_instances WHERE run_id = ? AND map_index = -1 AND task_id IN (`+placeholders(len(part))+`)
			ORDER BY id`+t.db.d.ForUpdate, append([]any{runID}, stringArgs(part)...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				in    selectedInstance
				state string
			)
			if err := rows.Scan(&in.id, &in.task, &state); err != nil {
				rows.Close()
				return nil, err
			}
			in.state = sluice.InstanceState(state)
			out = append(out, in)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	place := make(map[string]int, len(tasks))
	for i, id := range tasks {
		place[id] = i
	}
	slices.SortFunc(out, func(a, b selectedInstance) int { return place[a.task] - place[b.task] })
	return out, nil
}

// InstanceClearSet implements store.Store.
func (db *DB) InstanceClearSet(ctx context.Context, p *store.ClearParams) ([]*store.Selected, error) {
	var out []*store.Selected
	err := db.inTx(ctx, "InstanceClearSet", func(t *txn) error {
		out = nil
		runs, err := selectRuns(t, &p.Selection)
		if err != nil {
			return err
		}
		for _, r := range runs {
			ins, err := instancesOf(t, r.id, r.tasks)
			if err != nil {
				return err
			}
			var ids []int64
			for _, in := range ins {
				// Only what has finished is cleared: a task still to run
				// or running needs no second start.
				if !in.state.Finished() || p.OnlyFailed && in.state != sluice.InstanceFailed && in.state != sluice.InstanceUpstreamFailed {
					continue
				}
				ids = append(ids, in.id)
				out = append(out, &store.Selected{RunID: r.id, LogicalDate: fromUS(r.logical), TaskID: in.task, State: in.state})
			}
			if len(ids) == 0 || p.DryRun {
				continue
			}
			if err := reset(t, r.id, r.versionID, ids, "cleared by hand"); err != nil {
				return err
			}
		}
		if len(out) == 0 && !p.DryRun {
			what := "finished"
			if p.OnlyFailed {
				what = "failed"
			}
			return sluice.Errorf(sluice.ECONFLICT, "nothing to clear: no %s instance of %s in the runs chosen", what, strings.Join(p.TaskIDs, ", "))
		}
		return nil
	})
	return out, dbErr(err)
}

// InstanceMarkSet implements store.Store.
func (db *DB) InstanceMarkSet(ctx context.Context, p *store.MarkParams) ([]*store.Selected, error) {
	if p.State != sluice.InstanceSuccess && p.State != sluice.InstanceFailed {
		return nil, sluice.Errorf(sluice.EINVALID, "a task can be marked success or failed, not %q", p.State)
	}
	var out []*store.Selected
	err := db.inTx(ctx, "InstanceMarkSet", func(t *txn) error {
		out = nil
		runs, err := selectRuns(t, &p.Selection)
		if err != nil {
			return err
		}
		for _, r := range runs {
			var state string
			// Not locked: a completion locks its instance, then the run;
			// taking them in the other order could deadlock with it.
			if err := t.queryRow(`SELECT state FROM runs WHERE id = ?`, r.id).Scan(&state); err != nil {
				return err
			}
			if sluice.RunState(state) == sluice.RunCancelled {
				if r.id == p.RunID {
					return sluice.Errorf(sluice.ECONFLICT, "run %d was cancelled", r.id)
				}
				continue // a cancelled run of the range stays as it is
			}
			if !p.DryRun {
				// Attempts first, then instances: the order a completion
				// takes its locks in.
				for _, part := range chunks(r.tasks, maxBatch) {
					if _, err := t.exec(`UPDATE attempts SET state = 'cancelled', finished_at = ?, error = ?
						WHERE run_id = ? AND task_id IN (`+placeholders(len(part))+`) AND state = 'running'`,
						append([]any{us(t.now), "marked " + string(p.State) + " by hand", r.id}, stringArgs(part)...)...); err != nil {
						return err
					}
				}
			}
			ins, err := instancesOf(t, r.id, r.tasks)
			if err != nil {
				return err
			}
			var todo []selectedInstance
			for _, in := range ins {
				if in.state == p.State {
					continue
				}
				todo = append(todo, in)
				out = append(out, &store.Selected{RunID: r.id, LogicalDate: fromUS(r.logical), TaskID: in.task, State: in.state})
			}
			if len(todo) == 0 || p.DryRun {
				continue
			}
			if err := markInstances(t, r.id, r.versionID, todo, p.State); err != nil {
				return err
			}
		}
		return nil
	})
	return out, dbErr(err)
}

// markInstances sets instances of one run to a final state by hand (their
// running attempts are cancelled already): unfinished ones finish so, a
// mapped task's open items with them; finished ones change state and their
// pending downstream instances are decided again.
func markInstances(t *txn, runID, versionID int64, ins []selectedInstance, to sluice.InstanceState) error {
	now := us(t.now)
	f := newFinisher(t)
	var unfinished, final []int64
	var finalTasks []string
	for _, in := range ins {
		res, err := t.exec(`UPDATE task_instances SET state = 'cancelled', finished_at = ?, updated_at = ?
			WHERE parent_id = ? AND state IN `+unfinishedStates, now, now, in.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			f.acct(runID).finished += int(n)
		}
		if in.state.Finished() {
			final = append(final, in.id)
			finalTasks = append(finalTasks, in.task)
		} else {
			unfinished = append(unfinished, in.id)
		}
	}
	t.notify(store.TopicLeases)
	if len(unfinished) > 0 {
		if err := f.finish(unfinished, to); err != nil {
			return err
		}
	}
	if len(final) > 0 {
		for _, part := range chunks(final, maxBatch) {
			if _, err := t.exec(`UPDATE task_instances SET state = ?, updated_at = ? WHERE id IN (`+placeholders(len(part))+`)`,
				append([]any{string(to), now}, int64Args(part)...)...); err != nil {
				return err
			}
		}
		t.notify(store.TopicInstances)
		var pending []int64
		for _, part := range chunks(finalTasks, maxBatch) {
			got, err := t.ids(`SELECT DISTINCT ti.id FROM task_instances ti JOIN version_edges e ON e.version_id = ? AND e.downstream = ti.task_id
				WHERE ti.run_id = ? AND ti.state = 'pending' AND e.upstream IN (`+placeholders(len(part))+`)`,
				append([]any{versionID, runID}, stringArgs(part)...)...)
			if err != nil {
				return err
			}
			pending = append(pending, got...)
		}
		if err := recount(t, versionID, pending); err != nil {
			return err
		}
		if err := f.decide(pending); err != nil {
			return err
		}
	}
	if err := f.done(); err != nil {
		return err
	}
	return settleFinishedRun(t, runID)
}
