package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// The asset views are read from three places, since no table lists the
// assets themselves: the produces: of live versions' tasks, the
// asset_consumers rows of pipelines scheduled on assets, and the events.
// An asset is known while any of them names it. The union is small (one
// row per asset name) and merged here rather than in SQL, so one query
// shape serves both dialects.

// AssetList implements store.Store.
func (db *DB) AssetList(ctx context.Context, p *store.AssetListParams) ([]*store.AssetInfo, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 500
	}
	all, err := db.assetInfos(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []*store.AssetInfo
	for _, a := range all {
		if p.After != "" && a.Name <= p.After {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, a)
	}
	if err := db.lastEvents(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// AssetGet implements store.Store.
func (db *DB) AssetGet(ctx context.Context, name string) (*store.AssetInfo, error) {
	all, err := db.assetInfos(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "asset %q is unknown: no live pipeline produces it or is scheduled on it, and it has no events", name)
	}
	if err := db.lastEvents(ctx, all); err != nil {
		return nil, err
	}
	return all[0], nil
}

// assetInfos gathers the known assets, or only the one named when name is
// not empty, ordered by name, without their last events.
func (db *DB) assetInfos(ctx context.Context, name string) ([]*store.AssetInfo, error) {
	byName := map[string]*store.AssetInfo{}
	get := func(n string) *store.AssetInfo {
		a := byName[n]
		if a == nil {
			a = &store.AssetInfo{Name: n}
			byName[n] = a
		}
		return a
	}
	filter, args := "", []any{}
	if name != "" {
		filter, args = " WHERE asset = ?", []any{name}
	}
	err := db.scanRows(ctx, `SELECT asset, COUNT(*) FROM asset_events`+filter+` GROUP BY asset`, args, func(rows *sql.Rows) error {
		var (
			n     string
			count int64
		)
		if err := rows.Scan(&n, &count); err != nil {
			return err
		}
		get(n).Events = count
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = db.scanRows(ctx, `SELECT pipeline_id, asset FROM asset_consumers`+filter+` ORDER BY pipeline_id`, args, func(rows *sql.Rows) error {
		var pipelineID, n string
		if err := rows.Scan(&pipelineID, &n); err != nil {
			return err
		}
		a := get(n)
		a.Consumers = append(a.Consumers, pipelineID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// produces holds ",a,b," (see encodeLabels): the LIKE narrows the rows
	// for one asset, and the split below decides.
	pfilter, pargs := "", []any{}
	if name != "" {
		pfilter, pargs = ` AND vt.produces LIKE ? ESCAPE '\'`, []any{"%," + likeEscape(name) + ",%"}
	}
	err = db.scanRows(ctx, `SELECT p.id, vt.task_id, vt.produces FROM pipelines p
		JOIN version_tasks vt ON vt.version_id = p.version_id
		WHERE vt.produces <> ''`+pfilter+` ORDER BY p.id, vt.task_id`, pargs, func(rows *sql.Rows) error {
		var pipelineID, taskID, produces string
		if err := rows.Scan(&pipelineID, &taskID, &produces); err != nil {
			return err
		}
		for _, n := range strings.Split(strings.Trim(produces, ","), ",") {
			if n == "" || name != "" && n != name {
				continue
			}
			a := get(n)
			a.Producers = append(a.Producers, store.AssetProducer{PipelineID: pipelineID, TaskID: taskID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*store.AssetInfo, 0, len(byName))
	for _, a := range byName {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *store.AssetInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// lastEvents fills in the newest event of each asset that has events.
func (db *DB) lastEvents(ctx context.Context, assets []*store.AssetInfo) error {
	var names []any
	byName := map[string]*store.AssetInfo{}
	for _, a := range assets {
		if a.Events > 0 {
			names = append(names, a.Name)
			byName[a.Name] = a
		}
	}
	for _, part := range chunks(names, maxBatch) {
		err := db.scanRows(ctx, `SELECT `+assetEventColumns+` FROM asset_events WHERE id IN
			(SELECT MAX(id) FROM asset_events WHERE asset IN (`+placeholders(len(part))+`) GROUP BY asset)`, part, func(rows *sql.Rows) error {
			e, err := scanAssetEvent(rows)
			if err != nil {
				return err
			}
			if a := byName[e.Asset]; a != nil {
				a.LastEvent = e
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// AssetConsumerStatus implements store.Store.
func (db *DB) AssetConsumerStatus(ctx context.Context, pipelineID string) ([]*store.AssetConsumerState, error) {
	var out []*store.AssetConsumerState
	err := db.scanRows(ctx, `SELECT c.asset, c.last_event_id, le.created_at, n.id, n.created_at
		FROM asset_consumers c
		LEFT JOIN asset_events le ON le.id = c.last_event_id
		LEFT JOIN asset_events n ON n.id = (SELECT MAX(e.id) FROM asset_events e WHERE e.asset = c.asset)
		WHERE c.pipeline_id = ? ORDER BY c.asset`, []any{pipelineID}, func(rows *sql.Rows) error {
		var (
			s                  store.AssetConsumerState
			consumedAt, newest sql.NullInt64
			newestAt           sql.NullInt64
		)
		if err := rows.Scan(&s.Asset, &s.LastConsumedID, &consumedAt, &newest, &newestAt); err != nil {
			return err
		}
		s.LastConsumedAt = fromNullUS(consumedAt)
		s.NewestID = newest.Int64
		s.NewestAt = fromNullUS(newestAt)
		out = append(out, &s)
		return nil
	})
	return out, err
}

// AssetEventsByID implements store.Store.
func (db *DB) AssetEventsByID(ctx context.Context, ids []int64) ([]*store.AssetEvent, error) {
	var out []*store.AssetEvent
	for _, part := range chunks(ids, maxBatch) {
		err := db.scanRows(ctx, `SELECT `+assetEventColumns+` FROM asset_events WHERE id IN (`+placeholders(len(part))+`)`, int64Args(part), func(rows *sql.Rows) error {
			e, err := scanAssetEvent(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(x, y *store.AssetEvent) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// RunTriggerList implements store.Store.
func (db *DB) RunTriggerList(ctx context.Context, runID int64) ([]*store.RunTrigger, error) {
	var out []*store.RunTrigger
	err := db.scanRows(ctx, `SELECT source, key, received_at FROM trigger_events WHERE run_id = ? ORDER BY id`, []any{runID}, func(rows *sql.Rows) error {
		var (
			tr store.RunTrigger
			at int64
		)
		if err := rows.Scan(&tr.Source, &tr.Key, &at); err != nil {
			return err
		}
		tr.ReceivedAt = fromUS(at)
		out = append(out, &tr)
		return nil
	})
	return out, err
}

// scanRows runs a read query and calls each for every row.
func (db *DB) scanRows(ctx context.Context, query string, args []any, each func(*sql.Rows) error) error {
	rows, err := db.read(ctx, db.q(query), args...)
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return dbErr(err)
		}
	}
	return dbErr(rows.Err())
}

// likeEscape escapes the LIKE wildcards of s, with \ as the escape.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
