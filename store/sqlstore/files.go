package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// FileWatchStart implements store.Store.
func (db *DB) FileWatchStart(ctx context.Context, p *store.FileWatchStartParams) (bool, error) {
	if p.Folder == "" {
		return false, sluice.Errorf(sluice.EINVALID, "files trigger %s: folder is empty", p.Source)
	}
	var started bool
	err := db.inTx(ctx, "FileWatchStart", func(t *txn) error {
		started = false
		// Only the first to record this folder takes the backlog; a racing
		// scheduler waits on the row, then finds it recorded.
		var at int64
		err := t.queryRow(`INSERT INTO file_watches (pipeline_id, source, folder, started_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (pipeline_id, source) DO UPDATE SET folder = excluded.folder, started_at = excluded.started_at
			WHERE file_watches.folder <> excluded.folder RETURNING started_at`,
			p.PipelineID, p.Source, p.Folder, us(t.now)).Scan(&at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		started = true
		// In batches of backlogBatch rows (one statement, prepared once),
		// then the rest one by one: a folder of 100,000 files is recorded
		// in a thousand round trips, not a hundred thousand.
		rest := p.Backlog
		for len(rest) > 0 {
			n := backlogBatch
			if len(rest) < n {
				n = 1
			}
			args := make([]any, 0, 6*n)
			for _, f := range rest[:n] {
				args = append(args, p.PipelineID, p.Source, f.Path, f.Size, f.MtimeNs, us(t.now))
			}
			if _, err := t.exec(backlogInsert(n), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	return started, dbErr(err)
}

// backlogBatch is how many backlog rows one statement inserts.
const backlogBatch = 100

// backlogInsert inserts n backlog rows, each (pipeline, source, path,
// size, mtime, seen at), handled without a run.
func backlogInsert(n int) string {
	rows := strings.Repeat("(?, ?, ?, ?, ?, NULL, ?), ", n)
	return `INSERT INTO file_arrivals (pipeline_id, source, path, size, mtime_ns, run_id, seen_at) VALUES ` + rows[:len(rows)-2] + `
		ON CONFLICT (pipeline_id, source, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, run_id = NULL, seen_at = excluded.seen_at`
}

// FileWatchNote implements store.Store.
func (db *DB) FileWatchNote(ctx context.Context, pipelineID, source, problem string) error {
	return dbErr(db.inTx(ctx, "FileWatchNote", func(t *txn) error {
		if n, err := t.count(`SELECT COUNT(*) FROM pipelines WHERE id = ?`, pipelineID); err != nil {
			return err
		} else if n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "pipeline %q not found", pipelineID)
		}
		var at any
		if problem != "" {
			at = us(t.now)
		}
		// problem_at keeps the first time the same problem was seen.
		_, err := t.exec(`INSERT INTO file_watches (pipeline_id, source, problem, problem_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (pipeline_id, source) DO UPDATE SET problem = excluded.problem,
				problem_at = CASE WHEN file_watches.problem = excluded.problem THEN file_watches.problem_at ELSE excluded.problem_at END
			WHERE file_watches.problem <> excluded.problem`,
			pipelineID, source, problem, at)
		return err
	}))
}

// FileWatchList implements store.Store.
func (db *DB) FileWatchList(ctx context.Context, pipelineID string) ([]*store.FileWatch, error) {
	rows, err := db.read(ctx, db.q(`SELECT pipeline_id, source, folder, started_at, problem, problem_at FROM file_watches
		WHERE pipeline_id = ? OR ? = '' ORDER BY pipeline_id, source`), pipelineID, pipelineID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.FileWatch
	for rows.Next() {
		var (
			w                  store.FileWatch
			started, problemAt sql.NullInt64
		)
		if err := rows.Scan(&w.PipelineID, &w.Source, &w.Folder, &started, &w.Problem, &problemAt); err != nil {
			return nil, dbErr(err)
		}
		w.StartedAt, w.ProblemAt = fromNullUS(started), fromNullUS(problemAt)
		out = append(out, &w)
	}
	return out, dbErr(rows.Err())
}

// FileWatchDelete implements store.Store.
func (db *DB) FileWatchDelete(ctx context.Context, pipelineID, source string) error {
	return dbErr(db.inTx(ctx, "FileWatchDelete", func(t *txn) error {
		if _, err := t.exec(`DELETE FROM file_arrivals WHERE pipeline_id = ? AND source = ?`, pipelineID, source); err != nil {
			return err
		}
		_, err := t.exec(`DELETE FROM file_watches WHERE pipeline_id = ? AND source = ?`, pipelineID, source)
		return err
	}))
}

// FileSeenList implements store.Store.
func (db *DB) FileSeenList(ctx context.Context, pipelineID, source string) ([]*store.FileSeen, error) {
	rows, err := db.read(ctx, db.q(`SELECT path, size, mtime_ns, run_id FROM file_arrivals WHERE pipeline_id = ? AND source = ? ORDER BY path`), pipelineID, source)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.FileSeen
	for rows.Next() {
		var (
			f   store.FileSeen
			run sql.NullInt64
		)
		if err := rows.Scan(&f.Path, &f.Size, &f.MtimeNs, &run); err != nil {
			return nil, dbErr(err)
		}
		if run.Valid {
			f.RunID = &run.Int64
		}
		out = append(out, &f)
	}
	return out, dbErr(rows.Err())
}

// FileArrive implements store.Store.
func (db *DB) FileArrive(ctx context.Context, p *store.FileArriveParams) (*store.Run, bool, error) {
	rp := p.Run
	if rp == nil || rp.Event == nil {
		return nil, false, sluice.Errorf(sluice.EINVALID, "a file's arrival needs a run with its trigger event")
	}
	if p.File.Path == "" {
		return nil, false, sluice.Errorf(sluice.EINVALID, "a file's arrival needs the file's path")
	}
	params, err := checkRunCreate(rp)
	if err != nil {
		return nil, false, err
	}
	var (
		run     *store.Run
		created bool
	)
	err = db.inTx(ctx, "FileArrive", func(t *txn) error {
		run, created = nil, false
		f := p.File
		var (
			size, mtime int64
			runID       sql.NullInt64
		)
		err := t.queryRow(`SELECT size, mtime_ns, run_id FROM file_arrivals WHERE pipeline_id = ? AND source = ? AND path = ?`,
			rp.PipelineID, rp.Event.Source, f.Path).Scan(&size, &mtime, &runID)
		switch {
		case err == nil && size == f.Size && mtime == f.MtimeNs:
			// Handled before: by a run (which retention may have pruned)
			// or as the backlog.
			if runID.Valid {
				run, err = scanRun(t.queryRow(`SELECT `+runColumns+` FROM runs WHERE id = ?`, runID.Int64))
				if errors.Is(err, sql.ErrNoRows) {
					run, err = nil, nil
				}
			}
			return err
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if run, created, err = createRun(t, rp, params); err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO file_arrivals (pipeline_id, source, path, size, mtime_ns, run_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (pipeline_id, source, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, run_id = excluded.run_id, seen_at = excluded.seen_at`,
			rp.PipelineID, rp.Event.Source, f.Path, f.Size, f.MtimeNs, run.ID, us(t.now))
		return err
	})
	if err != nil {
		return nil, false, dbErr(err)
	}
	return run, created, nil
}

// FileForget implements store.Store.
func (db *DB) FileForget(ctx context.Context, pipelineID, source string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	return dbErr(db.inTx(ctx, "FileForget", func(t *txn) error {
		for _, path := range paths {
			if _, err := t.exec(`DELETE FROM file_arrivals WHERE pipeline_id = ? AND source = ? AND path = ?`, pipelineID, source, path); err != nil {
				return err
			}
		}
		return nil
	}))
}
