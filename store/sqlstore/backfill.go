package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// BackfillCreate implements store.Backfiller.
func (db *DB) BackfillCreate(ctx context.Context, p *store.BackfillCreateParams) (*store.Backfill, error) {
	switch p.Rerun {
	case "":
		p.Rerun = store.RerunNone
	case store.RerunNone, store.RerunFailed, store.RerunAll:
	default:
		return nil, sluice.Errorf(sluice.EINVALID, "rerun %q: want none, failed or all", p.Rerun)
	}
	params := p.Params
	if len(params) == 0 {
		params = []byte("{}")
	}
	var b *store.Backfill
	err := db.inTx(ctx, "BackfillCreate", func(t *txn) error {
		var (
			live      sql.NullInt64
			maxActive int
		)
		err := t.queryRow(`SELECT version_id, max_active_runs FROM pipelines WHERE id = ?`+db.d.ForPipeline, p.PipelineID).Scan(&live, &maxActive)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", p.PipelineID)
		}
		if err != nil {
			return err
		}
		if !live.Valid {
			return sluice.Errorf(sluice.ECONFLICT, "pipeline %q has no valid version to run", p.PipelineID)
		}
		b = &store.Backfill{PipelineID: p.PipelineID, From: p.From, To: p.To, Rerun: p.Rerun, State: "running", CreatedBy: p.By, CreatedAt: t.now}
		if err := t.queryRow(`INSERT INTO backfills (pipeline_id, from_date, to_date, rerun, state, created_by, created_at)
			VALUES (?, ?, ?, ?, 'running', ?, ?) RETURNING id`, p.PipelineID, us(p.From), us(p.To), p.Rerun, p.By, us(t.now)).Scan(&b.ID); err != nil {
			return err
		}
		for _, d := range p.Dates {
			key := "scheduled__" + d.UTC().Format(time.RFC3339)
			var (
				id, vid int64
				state   string
			)
			err := t.queryRow(`SELECT id, version_id, state FROM runs WHERE pipeline_id = ? AND key = ?`, p.PipelineID, key).Scan(&id, &vid, &state)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if _, err := t.exec(`INSERT INTO runs (pipeline_id, version_id, key, kind, logical_date, params, state, created_at, callbacks, backfill_id)
					VALUES (?, ?, ?, 'backfill', ?, ?, 'queued', ?, (SELECT callbacks FROM versions WHERE id = ?), ?)`,
					p.PipelineID, live.Int64, key, us(d), string(params), us(t.now), live.Int64, b.ID); err != nil {
					return err
				}
				b.Total++
				continue
			case err != nil:
				return err
			}
			var ids []int64
			rs := sluice.RunState(state)
			switch {
			case p.Rerun == store.RerunFailed && rs == sluice.RunFailed:
				ids, err = t.ids(`SELECT id FROM task_instances WHERE run_id = ? AND map_index = -1 AND state IN ('failed', 'upstream_failed')`, id)
			case p.Rerun == store.RerunAll && rs.Finished():
				ids, err = t.ids(`SELECT id FROM task_instances WHERE run_id = ? AND map_index = -1`, id)
			}
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				b.Skipped++
				continue
			}
			if err := requeue(t, id, vid, ids, "rerun by backfill"); err != nil {
				return err
			}
			if _, err := t.exec(`UPDATE runs SET backfill_id = ? WHERE id = ?`, b.ID, id); err != nil {
				return err
			}
			b.Total++
		}
		t.notify(store.TopicRuns)
		_, err = startQueued(t, p.PipelineID, maxActive)
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return b, nil
}

// requeue resets instances of a finished run like reset, but leaves the
// run queued: it starts again when max_active_runs allows.
func requeue(t *txn, runID, versionID int64, ids []int64, why string) error {
	if err := reset(t, runID, versionID, ids, why); err != nil {
		return err
	}
	// reset queued the runnable instances and made the run running; put
	// it back in line. startRun queues its runnable instances again.
	if _, err := t.exec(`UPDATE task_instances SET state = 'pending', ready_at = NULL WHERE run_id = ? AND state = 'queued'`, runID); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE runs SET state = 'queued', started_at = NULL, finished_at = NULL WHERE id = ?`, runID)
	return err
}

// BackfillGet implements store.Backfiller.
func (db *DB) BackfillGet(ctx context.Context, id int64) (*store.Backfill, error) {
	list, err := db.listBackfills(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "backfill %d not found", id)
	}
	return list[0], nil
}

// BackfillList implements store.Backfiller.
func (db *DB) BackfillList(ctx context.Context, pipelineID string) ([]*store.Backfill, error) {
	return db.listBackfills(ctx, `WHERE pipeline_id = ? ORDER BY id DESC`, pipelineID)
}

func (db *DB) listBackfills(ctx context.Context, where string, args ...any) ([]*store.Backfill, error) {
	rows, err := db.read(ctx, db.q(`SELECT id, pipeline_id, from_date, to_date, rerun, state, created_by, created_at FROM backfills `+where), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	var out []*store.Backfill
	for rows.Next() {
		b := &store.Backfill{Runs: map[sluice.RunState]int{}}
		var from, to, created int64
		if err := rows.Scan(&b.ID, &b.PipelineID, &from, &to, &b.Rerun, &b.State, &b.CreatedBy, &created); err != nil {
			rows.Close()
			return nil, dbErr(err)
		}
		b.From, b.To, b.CreatedAt = fromUS(from), fromUS(to), fromUS(created)
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	for _, b := range out {
		rows, err := db.read(ctx, db.q(`SELECT state, COUNT(*) FROM runs WHERE backfill_id = ? GROUP BY state`), b.ID)
		if err != nil {
			return nil, dbErr(err)
		}
		for rows.Next() {
			var state string
			var n int
			if err := rows.Scan(&state, &n); err != nil {
				rows.Close()
				return nil, dbErr(err)
			}
			b.Runs[sluice.RunState(state)] = n
			b.Total += n
		}
		rows.Close()
		if b.State == "running" && b.Finished() == b.Total {
			b.State = "done"
		}
	}
	return out, nil
}

// BackfillCancel implements store.Backfiller.
func (db *DB) BackfillCancel(ctx context.Context, id int64) error {
	var runs []int64
	err := db.inTx(ctx, "BackfillCancel", func(t *txn) error {
		res, err := t.exec(`UPDATE backfills SET state = 'cancelled' WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "backfill %d not found", id)
		}
		runs, err = t.ids(`SELECT id FROM runs WHERE backfill_id = ? AND state IN ('queued', 'running') ORDER BY id`, id)
		return err
	})
	if err != nil {
		return dbErr(err)
	}
	for _, r := range runs {
		if err := db.RunCancel(ctx, r); err != nil && sluice.ErrorCode(err) != sluice.ECONFLICT {
			return err
		}
	}
	return nil
}
