package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// OutputList implements store.Store. The outputs of a mapped task are its
// items' outputs, each key a JSON array in item order (null where an item
// gave none).
func (db *DB) OutputList(ctx context.Context, runID int64, taskIDs []string) (map[string]map[string]string, error) {
	if len(taskIDs) == 0 {
		return map[string]map[string]string{}, nil
	}
	args := append([]any{runID}, stringArgs(taskIDs)...)
	rows, err := db.read(ctx, db.q(`SELECT ti.task_id, ti.map_index, o.key, o.value FROM outputs o
		JOIN task_instances ti ON ti.id = o.instance_id
		WHERE ti.run_id = ? AND ti.task_id IN (`+placeholders(len(taskIDs))+`)`), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var set outputSet
	for rows.Next() {
		var task, k, v string
		var idx int
		if err := rows.Scan(&task, &idx, &k, &v); err != nil {
			return nil, dbErr(err)
		}
		set.add(task, idx, k, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if !set.mapped() {
		return set.result()
	}
	trows, err := db.read(ctx, db.q(`SELECT task_id, items_total FROM task_instances
		WHERE run_id = ? AND map_index = -1 AND task_id IN (`+placeholders(len(taskIDs))+`)`), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer trows.Close()
	for trows.Next() {
		var task string
		var n int
		if err := trows.Scan(&task, &n); err != nil {
			return nil, dbErr(err)
		}
		set.setItems(task, n)
	}
	if err := trows.Err(); err != nil {
		return nil, dbErr(err)
	}
	return set.result()
}

// outputSet gathers output rows into the outputs of tasks, keyed by task
// id and then output key, as OutputList and Claim.Outputs have them: a
// task's own outputs as they are, a mapped task's items' outputs as one
// JSON array per key, in item order, null where an item gave none. The
// zero value is empty and ready to use.
type outputSet struct {
	out    map[string]map[string]string
	items  map[string]map[string]map[int]string // task -> key -> index -> value
	totals map[string]int                       // a mapped task's number of items
}

// add records an output of an instance: index -1 for a task, the item's
// index for an item of a mapped task.
func (s *outputSet) add(task string, index int, key, value string) {
	if index >= 0 {
		if s.items == nil {
			s.items = map[string]map[string]map[int]string{}
		}
		if s.items[task] == nil {
			s.items[task] = map[string]map[int]string{}
		}
		if s.items[task][key] == nil {
			s.items[task][key] = map[int]string{}
		}
		s.items[task][key][index] = value
		return
	}
	if s.out == nil {
		s.out = map[string]map[string]string{}
	}
	if s.out[task] == nil {
		s.out[task] = map[string]string{}
	}
	s.out[task][key] = value
}

// mapped reports whether any output came from an item of a mapped task;
// the number of items of each such task must then be set.
func (s *outputSet) mapped() bool { return len(s.items) > 0 }

// setItems records how many items a mapped task has: the length of its
// outputs' arrays.
func (s *outputSet) setItems(task string, n int) {
	if s.totals == nil {
		s.totals = map[string]int{}
	}
	s.totals[task] = n
}

// result returns the outputs by task; an empty map when there are none.
func (s *outputSet) result() (map[string]map[string]string, error) {
	out := s.out
	if out == nil {
		out = map[string]map[string]string{}
	}
	for task, byKey := range s.items {
		if out[task] == nil {
			out[task] = map[string]string{}
		}
		for k, byIndex := range byKey {
			arr := make([]*string, s.totals[task])
			for i, v := range byIndex {
				if i < len(arr) {
					v := v
					arr[i] = &v
				}
			}
			b, err := json.Marshal(arr)
			if err != nil {
				return nil, err
			}
			out[task][k] = string(b)
		}
	}
	return out, nil
}

// upstreamOutputs is the SQL of a correlated subquery that gives the
// outputs of the direct upstream tasks of a claimed instance (the row
// alias ti) of a run (the row alias r): a JSON list of [task, map index,
// key, value, items of the mapped task] rows, an empty list or NULL when
// there are none. A claim carries it, so that the worker needs no query
// of its own before the task starts. The upstream tasks are found through
// the index version_edges_downstream and the (run_id, task_id, map_index)
// key, a few index lookups per upstream task: CROSS JOIN fixes that order
// in SQLite, which would otherwise start from the (run_id, state) index and
// visit every instance of the run on every claim (a chain of N tasks then
// costs N² row visits). PostgreSQL plans both forms alike.
func (db *DB) upstreamOutputs(ti, r string) string {
	return `(SELECT CAST(` + db.d.JSONAgg + `(` + db.d.JSONArray + `(u.task_id, u.map_index, o.key, o.value, COALESCE(m.items_total, 0))) AS TEXT)
		FROM version_edges e CROSS JOIN task_instances u CROSS JOIN outputs o
		LEFT JOIN task_instances m ON m.id = u.parent_id
		WHERE e.version_id = ` + r + `.version_id AND e.downstream = ` + ti + `.task_id
			AND u.run_id = ` + ti + `.run_id AND u.task_id = e.upstream AND o.instance_id = u.id)`
}

// decodeUpstreamOutputs turns what upstreamOutputs gave into the outputs by
// task; nil when there are none.
func decodeUpstreamOutputs(raw sql.NullString) (map[string]map[string]string, error) {
	if !raw.Valid || raw.String == "" || raw.String == "[]" {
		return nil, nil
	}
	var list [][]json.RawMessage
	if err := json.Unmarshal([]byte(raw.String), &list); err != nil {
		return nil, fmt.Errorf("upstream outputs: %w", err)
	}
	var set outputSet
	for _, l := range list {
		if len(l) != 5 {
			return nil, fmt.Errorf("upstream outputs: a row of %d values, want 5", len(l))
		}
		var (
			task, key, value string
			index, items     int
		)
		for i, dst := range []any{&task, &index, &key, &value, &items} {
			if err := json.Unmarshal(l[i], dst); err != nil {
				return nil, fmt.Errorf("upstream outputs: %w", err)
			}
		}
		set.add(task, index, key, value)
		if index >= 0 {
			set.setItems(task, items)
		}
	}
	return set.result()
}
