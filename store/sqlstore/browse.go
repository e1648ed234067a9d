package sqlstore

import (
	"context"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// lastRunState is the state of a pipeline's newest run: one step down the
// runs_pipeline_id index (pipeline_id, id) per pipeline.
const lastRunState = `COALESCE((SELECT r.state FROM runs r WHERE r.pipeline_id = p.id ORDER BY r.id DESC LIMIT 1), '')`

// PipelineSearch implements store.Browse.
func (db *DB) PipelineSearch(ctx context.Context, p *store.PipelineSearchParams) ([]*store.Pipeline, error) {
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
	q := `SELECT ` + pipelineColumns + `, ` + lastRunState + pipelineFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY p.id`
	rows, err := db.read(ctx, db.q(q), args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Pipeline
	for rows.Next() {
		var last string
		sp, err := scanPipeline(rows, &last)
		if err != nil {
			return nil, dbErr(err)
		}
		sp.LastRunState = sluice.RunState(last)
		out = append(out, sp)
	}
	return out, dbErr(rows.Err())
}

// likeEscaper escapes the wildcards of LIKE, so that a search for "a_b"
// finds "a_b" and not "axb".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// RunListRecentFor implements store.Browse.
func (db *DB) RunListRecentFor(ctx context.Context, ids []string, perPipeline int) (map[string][]*store.Run, error) {
	out := map[string][]*store.Run{}
	// One indexed LIMIT per pipeline, in one statement per chunk.
	for _, part := range chunks(ids, 50) {
		var q strings.Builder
		args := make([]any, 0, 2*len(part))
		for i, id := range part {
			if i > 0 {
				q.WriteString(" UNION ALL ")
			}
			q.WriteString(`SELECT * FROM (SELECT ` + runColumns + ` FROM runs WHERE pipeline_id = ? ORDER BY id DESC LIMIT ?) AS r`)
			args = append(args, id, perPipeline)
		}
		rows, err := db.read(ctx, db.q(q.String()), args...)
		if err != nil {
			return nil, dbErr(err)
		}
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				rows.Close()
				return nil, dbErr(err)
			}
			out[r.PipelineID] = append(out[r.PipelineID], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbErr(err)
		}
	}
	return out, nil
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
