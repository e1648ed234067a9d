package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// lastRunState is the state of a pipeline's newest run: one step down the
// runs_pipeline_id index (pipeline_id, id) per pipeline.
const lastRunState = `COALESCE((SELECT r.state FROM runs r WHERE r.pipeline_id = p.id ORDER BY r.id DESC LIMIT 1), '')`

// pipelineSearchQuery is the query of PipelineSearch and its arguments.
func pipelineSearchQuery(p *store.PipelineSearchParams) (string, []any) {
	var (
		where []string
		args  []any
	)
	if len(p.Tags) > 0 {
		where = append(where, `p.id IN (SELECT pipeline_id FROM pipeline_tags WHERE tag IN (`+placeholders(len(p.Tags))+`))`)
		for _, t := range p.Tags {
			args = append(args, t)
		}
	}
	if len(p.LastStates) > 0 {
		where = append(where, lastRunState+` IN (`+placeholders(len(p.LastStates))+`)`)
		for _, s := range p.LastStates {
			if s == store.NoRuns {
				s = ""
			}
			args = append(args, string(s))
		}
	}
	if p.Paused != nil {
		where = append(where, `p.paused = ?`)
		args = append(args, *p.Paused)
	}
	if p.Search != "" {
		like := "%" + likeEscaper.Replace(strings.ToLower(p.Search)) + "%"
		where = append(where, `(LOWER(p.id) LIKE ? ESCAPE '\' OR LOWER(p.description) LIKE ? ESCAPE '\')`)
		args = append(args, like, like)
	}
	q := `SELECT ` + pipelineColumns + pipelineFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY p.id`
	return q, args
}

// PipelineSearch implements store.Browse.
func (db *DB) PipelineSearch(ctx context.Context, p *store.PipelineSearchParams) ([]*store.Pipeline, error) {
	q, args := pipelineSearchQuery(p)
	rows, err := db.read(ctx, db.q(q), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Pipeline
	for rows.Next() {
		sp, err := scanPipeline(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, sp)
	}
	return out, dbErr(rows.Err())
}

// likeEscaper escapes the wildcards of LIKE, so that a search for "a_b"
// finds "a_b" and not "axb".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// recentChunk is how many pipelines one statement of recent runs reads. Every statement has this many, padded with a pipeline id that
// cannot exist, so its text is always the same and SQLite parses it once
// (parsing a 50-way UNION took half the time of a list of 1,000
// pipelines).
const recentChunk = 50

// recentQuery is a statement of recent runs: one indexed LIMIT per
// pipeline, recentChunk of them, each reading its place in the chunk (a
// literal, 0 to recentChunk-1) and then cols. The limit is a literal, not
// a parameter: SQLite treats a LIMIT parameter as a constant of the plan
// and prepares the statement again whenever any parameter is bound, which
// was a third of the time of a list of 1,000 pipelines.
func recentQuery(cols string, limit int) string {
	var q strings.Builder
	for i := range recentChunk {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		q.WriteString(`SELECT ` + strconv.Itoa(i) + `, recent.* FROM (SELECT ` + cols + ` FROM runs WHERE pipeline_id = ? ORDER BY id DESC LIMIT ` + strconv.Itoa(limit) + `) AS recent`)
	}
	return q.String()
}

// briefRunColumns are the columns of a run that lists of pipelines
// show. Reading only these (no params, key or times) and the run's
// place in its chunk rather than its pipeline's id (a string to copy and
// hash for every run) keeps a list of 1,000 pipelines' recent runs
// cheap: it was half of the CPU of GET /api/v1/pipelines.
const briefRunColumns = `id, kind, logical_date, state`

func scanBriefRun(sc interface{ Scan(...any) error }) (*store.Run, error) {
	var (
		r           store.Run
		kind, state string
		logical     int64
	)
	if err := sc.Scan(&r.ID, &kind, &logical, &state); err != nil {
		return nil, err
	}
	r.Kind = store.RunKind(kind)
	r.State = sluice.RunState(state)
	r.LogicalDate = fromUS(logical)
	return &r, nil
}

// ExplainRecentRuns returns how the database reads the recent runs of
// the pipelines of a list (see ExplainPipelineSearch).
func (db *DB) ExplainRecentRuns(ctx context.Context) (string, error) {
	args := make([]any, 0, recentChunk)
	for range recentChunk {
		args = append(args, "p")
	}
	return db.explain(ctx, recentQuery(briefRunColumns, 10), args)
}

// RunListRecentFor implements store.Browse.
func (db *DB) RunListRecentFor(ctx context.Context, ids []string, perPipeline int) (map[string][]*store.Run, error) {
	return db.recentRuns(ctx, ids, perPipeline, briefRunColumns, scanBriefRun)
}

// chunkPlace scans a row of recentQuery: its place in the chunk, then
// the columns scan asks for.
type chunkPlace struct {
	rows  *sql.Rows
	place int
	dest  []any
}

func (c *chunkPlace) Scan(dest ...any) error {
	c.dest = append(append(c.dest[:0], &c.place), dest...)
	return c.rows.Scan(c.dest...)
}

func (db *DB) recentRuns(ctx context.Context, ids []string, perPipeline int, cols string, scan func(interface{ Scan(...any) error }) (*store.Run, error)) (map[string][]*store.Run, error) {
	out := make(map[string][]*store.Run, len(ids))
	query := recentQuery(cols, max(perPipeline, 1))
	for _, part := range chunks(ids, recentChunk) {
		args := make([]any, 0, recentChunk)
		for i := range recentChunk {
			id := "" // no pipeline has the empty id
			if i < len(part) {
				id = part[i]
			}
			args = append(args, id)
		}
		rows, err := db.readPrepared(ctx, query, args...)
		if err != nil {
			return nil, dbErr(err)
		}
		row := &chunkPlace{rows: rows}
		for rows.Next() {
			r, err := scan(row)
			if err == nil && (row.place < 0 || row.place >= len(part)) {
				err = fmt.Errorf("recent runs: a run of place %d in a chunk of %d", row.place, len(part))
			}
			if err != nil {
				rows.Close()
				return nil, dbErr(err)
			}
			r.PipelineID = part[row.place]
			out[r.PipelineID] = append(out[r.PipelineID], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbErr(err)
		}
	}
	return out, nil
}

// readPrepared runs a read of a fixed text as a statement prepared once
// on the read pool, where the dialect caches statements (SQLite); else as
// any read. Only for a few fixed texts: each stays prepared until
// Close.
func (db *DB) readPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = db.q(query)
	if !db.d.PrepareCache {
		return db.read(ctx, query, args...)
	}
	db.stmtMu.Lock()
	st := db.readStmts[query]
	db.stmtMu.Unlock()
	if st == nil {
		var err error
		if st, err = db.r.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		db.stmtMu.Lock()
		if db.readStmts == nil {
			db.readStmts = map[string]*sql.Stmt{}
		}
		if old := db.readStmts[query]; old != nil {
			st.Close()
			st = old
		} else {
			db.readStmts[query] = st
		}
		db.stmtMu.Unlock()
	}
	start := time.Now()
	rows, err := st.QueryContext(ctx, args...)
	db.observe("read", start, err)
	return rows, err
}

// savePipelineTags sets the tags of a pipeline in pipeline_tags to tags.
func savePipelineTags(t *txn, id string, tags []string) error {
	if _, err := t.exec(`DELETE FROM pipeline_tags WHERE pipeline_id = ?`, id); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	q := `INSERT INTO pipeline_tags (tag, pipeline_id) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(tags)), ", ") + ` ON CONFLICT DO NOTHING`
	args := make([]any, 0, 2*len(tags))
	for _, tag := range tags {
		args = append(args, tag, id)
	}
	_, err := t.exec(q, args...)
	return err
}

// PipelineTagList implements store.Browse.
func (db *DB) PipelineTagList(ctx context.Context) ([]string, error) {
	rows, err := db.read(ctx, `SELECT DISTINCT tag FROM pipeline_tags ORDER BY tag`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var tag string
		if err := rows.Scan(&tag); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, tag)
	}
	return out, dbErr(rows.Err())
}

// ExplainPipelineSearch returns how the database runs PipelineSearch's
// query for p, one line a step: SQLite's EXPLAIN QUERY PLAN, or
// PostgreSQL's EXPLAIN. For benchmarks and tests that check indexes.
func (db *DB) ExplainPipelineSearch(ctx context.Context, p *store.PipelineSearchParams) (string, error) {
	q, args := pipelineSearchQuery(p)
	return db.explain(ctx, q, args)
}

func (db *DB) explain(ctx context.Context, q string, args []any) (string, error) {
	prefix := "EXPLAIN "
	if db.d.Name == "sqlite" {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := db.read(ctx, db.q(prefix+q), args...)
	if err != nil {
		return "", dbErr(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", dbErr(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", dbErr(err)
		}
		// SQLite: id, parent, notused, detail; PostgreSQL: one text column.
		fmt.Fprintf(&b, "%v\n", vals[len(vals)-1])
	}
	return b.String(), dbErr(rows.Err())
}

// browseFilters adds the filters that lists across pipelines share: any
// of tags (through pipeline_tags) and a range of logical dates.
func browseFilters(where []string, args []any, pipelineCol, dateCol string, tags []string, since, until *time.Time) ([]string, []any) {
	if len(tags) > 0 {
		where = append(where, pipelineCol+` IN (SELECT pipeline_id FROM pipeline_tags WHERE tag IN (`+placeholders(len(tags))+`))`)
		for _, t := range tags {
			args = append(args, t)
		}
	}
	if since != nil {
		where = append(where, dateCol+` >= ?`)
		args = append(args, us(*since))
	}
	if until != nil {
		where = append(where, dateCol+` < ?`)
		args = append(args, us(*until))
	}
	return where, args
}

// failedTerm is the WHERE of the partial index task_instances_failed.
const failedTerm = `ti.state IN ('failed', 'upstream_failed')`

// instanceBrowseQuery is the query of InstanceBrowse.
func instanceBrowseQuery(p *store.InstanceBrowseParams) (string, []any) {
	var (
		where []string
		args  []any
	)
	if p.PipelineID != "" {
		where = append(where, "ti.pipeline_id = ?")
		args = append(args, p.PipelineID)
	}
	if len(p.States) > 0 {
		where = append(where, "ti.state IN ("+placeholders(len(p.States))+")")
		failedOnly := true
		for _, s := range p.States {
			args = append(args, string(s))
			failedOnly = failedOnly && (s == sluice.InstanceFailed || s == sluice.InstanceUpstreamFailed)
		}
		if failedOnly {
			// The term of the partial index task_instances_failed, word
			// for word, so the planner may use it ("what failed" is the
			// browse that must stay fast).
			where = append(where, failedTerm)
		}
	}
	if p.BeforeID > 0 {
		where = append(where, "ti.id < ?")
		args = append(args, p.BeforeID)
	}
	where, args = browseFilters(where, args, "ti.pipeline_id", "r.logical_date", p.Tags, p.Since, p.Until)
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ti.id, ti.run_id, ti.task_id, ti.map_index, ti.parent_id, ti.item, ti.items_total, ti.state, ti.attempts, ti.failures,
		ti.started_at, ti.finished_at, ti.pipeline_id, r.logical_date, r.state
		FROM task_instances ti JOIN runs r ON r.id = ti.run_id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ti.id DESC LIMIT ?"
	args = append(args, limit)
	return q, args
}

// ExplainInstanceBrowse returns the query plan of InstanceBrowse, for the
// test that keeps "what failed" on its index.
func (db *DB) ExplainInstanceBrowse(ctx context.Context, p *store.InstanceBrowseParams) (string, error) {
	q, args := instanceBrowseQuery(p)
	return db.explain(ctx, q, args)
}

// ExplainClaimPick returns the query plan of the claim's choice of
// instances (claimLimited's, for a worker without labels), for the test
// that keeps it on task_instances_claimable.
func (db *DB) ExplainClaimPick(ctx context.Context) (string, error) {
	labels, labelArgs := labelFilter(nil)
	args := append([]any{int64(0)}, labelArgs...)
	args = append(args, 48)
	return db.explain(ctx, `SELECT id, run_id, pool, pool_slots, limited, parent_id, max_parallel, pipeline_id
		FROM task_instances WHERE `+claimable+` AND ready_at <= ? AND `+labels+`
		ORDER BY priority DESC, ready_at, id LIMIT ?`, args)
}

// ExplainClaimRuns returns the query plan of the claim's read of its
// instances' runs and upstream outputs, for tests that check it stays on
// indexes.
func (db *DB) ExplainClaimRuns(ctx context.Context) (string, error) {
	return db.explain(ctx, db.claimRunsQuery(2), []any{int64(1), int64(2)})
}

// InstanceBrowse implements store.Browse.
func (db *DB) InstanceBrowse(ctx context.Context, p *store.InstanceBrowseParams) ([]*store.BrowsedInstance, error) {
	q, args := instanceBrowseQuery(p)
	rows, err := db.read(ctx, db.q(q), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.BrowsedInstance
	for rows.Next() {
		var (
			in                store.BrowsedInstance
			state, runState   string
			parent            sql.NullInt64
			item              sql.NullString
			started, finished sql.NullInt64
			logical           int64
		)
		if err := rows.Scan(&in.ID, &in.RunID, &in.TaskID, &in.MapIndex, &parent, &item, &in.ItemsTotal, &state, &in.Attempts, &in.Failures,
			&started, &finished, &in.PipelineID, &logical, &runState); err != nil {
			return nil, dbErr(err)
		}
		if parent.Valid {
			in.ParentID = &parent.Int64
		}
		if item.Valid {
			in.Item = &item.String
		}
		in.State = sluice.InstanceState(state)
		in.StartedAt = fromNullUS(started)
		in.FinishedAt = fromNullUS(finished)
		in.LogicalDate = fromUS(logical)
		in.RunState = sluice.RunState(runState)
		out = append(out, &in)
	}
	return out, dbErr(rows.Err())
}
