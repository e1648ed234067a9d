package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Asset-triggered runs are made in the transaction that records the event
// that completes them: a producer's success and its consumers' runs commit
// together, so no event is lost between the two and no poll stands between
// them.
//
// A consumer's rows in asset_consumers hold, per asset, the newest event
// its last asset-triggered run consumed. The consumer runs when each of
// its assets has a newer event. Two transactions that each add the event
// the other needs could each miss the other's (on PostgreSQL, under READ
// COMMITTED). So the event is inserted first and the consumer's pipeline
// row locked after: whichever transaction locks second sees the first's
// event once it commits, and makes the run. The trigger event of the run
// (source "assets", key the events it consumed) makes it exactly once.

const assetEventColumns = `id, asset, pipeline_id, run_id, task_id, extra, created_at`

func scanAssetEvent(sc interface{ Scan(...any) error }) (*store.AssetEvent, error) {
	var (
		e       store.AssetEvent
		run     sql.NullInt64
		extra   string
		created int64
	)
	if err := sc.Scan(&e.ID, &e.Asset, &e.PipelineID, &run, &e.TaskID, &extra, &created); err != nil {
		return nil, err
	}
	if run.Valid {
		e.RunID = &run.Int64
	}
	e.Extra = []byte(extra)
	e.CreatedAt = fromUS(created)
	return &e, nil
}

// AssetEventCreate implements store.Store.
func (db *DB) AssetEventCreate(ctx context.Context, p *store.AssetEventCreateParams) (*store.AssetEventResult, error) {
	if p.Asset == "" {
		return nil, sluice.Errorf(sluice.EINVALID, "asset name is empty")
	}
	extra := p.Extra
	if len(extra) == 0 {
		extra = []byte("{}")
	}
	var res *store.AssetEventResult
	err := db.inTx(ctx, "AssetEventCreate", func(t *txn) error {
		res = &store.AssetEventResult{}
		id, err := insertAssetEvent(t, p.Asset, "", nil, "", extra)
		if err != nil {
			return err
		}
		if res.Event, err = scanAssetEvent(t.queryRow(`SELECT `+assetEventColumns+` FROM asset_events WHERE id = ?`, id)); err != nil {
			return err
		}
		res.Runs, err = wakeConsumers(t, []string{p.Asset})
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return res, nil
}

// AssetEventList implements store.Store.
func (db *DB) AssetEventList(ctx context.Context, asset string, limit int) ([]*store.AssetEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read(ctx, db.q(`SELECT `+assetEventColumns+` FROM asset_events WHERE asset = ? ORDER BY id DESC LIMIT ?`), asset, limit)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.AssetEvent
	for rows.Next() {
		e, err := scanAssetEvent(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, e)
	}
	return out, dbErr(rows.Err())
}

func insertAssetEvent(t *txn, asset, pipelineID string, runID any, taskID string, extra []byte) (int64, error) {
	var id int64
	err := t.queryRow(`INSERT INTO asset_events (asset, pipeline_id, run_id, task_id, extra, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		asset, pipelineID, runID, taskID, string(extra), us(t.now)).Scan(&id)
	return id, err
}

// produceAssets records an asset event for each asset the succeeded
// instances' tasks produce, and starts the runs they complete. Items of
// mapped tasks produce nothing (the parser refuses produces: there).
func produceAssets(t *txn, succeeded []int64) error {
	var assets []string
	for _, part := range chunks(succeeded, maxBatch) {
		rows, err := t.query(`SELECT ti.run_id, ti.task_id, r.pipeline_id, vt.produces
			FROM task_instances ti JOIN runs r ON r.id = ti.run_id
			JOIN version_tasks vt ON vt.version_id = r.version_id AND vt.task_id = ti.task_id
			WHERE ti.id IN (`+placeholders(len(part))+`) AND ti.map_index = -1 AND ti.state = 'success' AND vt.produces <> ''`, int64Args(part)...)
		if err != nil {
			return err
		}
		type made struct {
			runID              int64
			task, pipeline, as string
		}
		var todo []made
		for rows.Next() {
			var m made
			if err := rows.Scan(&m.runID, &m.task, &m.pipeline, &m.as); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range todo {
			for _, a := range strings.Split(strings.Trim(m.as, ","), ",") {
				if _, err := insertAssetEvent(t, a, m.pipeline, m.runID, m.task, []byte("{}")); err != nil {
					return err
				}
				assets = append(assets, a)
			}
		}
	}
	if len(assets) == 0 {
		return nil
	}
	slices.Sort(assets)
	_, err := wakeConsumers(t, slices.Compact(assets))
	return err
}

// wakeConsumers starts a run of each pipeline scheduled on the assets
// whose every asset now has an event newer than its last run consumed.
func wakeConsumers(t *txn, assets []string) ([]*store.Run, error) {
	args := make([]any, len(assets))
	for i, a := range assets {
		args[i] = a
	}
	rows, err := t.query(`SELECT DISTINCT pipeline_id FROM asset_consumers WHERE asset IN (`+placeholders(len(assets))+`) ORDER BY pipeline_id`, args...)
	if err != nil {
		return nil, err
	}
	var pipelines []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		pipelines = append(pipelines, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var runs []*store.Run
	for _, id := range pipelines {
		run, err := wakeConsumer(t, id)
		if err != nil {
			return nil, err
		}
		if run != nil {
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// wakeConsumer starts a run of the pipeline if each of its assets has a
// new event, and marks those events consumed.
func wakeConsumer(t *txn, pipelineID string) (*store.Run, error) {
	var (
		live   sql.NullInt64
		paused bool
	)
	// The lock orders this check after any other transaction's that
	// holds it (see the top of this file).
	err := t.queryRow(`SELECT version_id, paused FROM pipelines WHERE id = ?`+t.db.d.ForPipeline, pipelineID).Scan(&live, &paused)
	if err != nil || paused || !live.Valid {
		return nil, err
	}
	rows, err := t.query(`SELECT c.asset, c.last_event_id, c.params, COALESCE((SELECT MAX(e.id) FROM asset_events e WHERE e.asset = c.asset), 0)
		FROM asset_consumers c WHERE c.pipeline_id = ? ORDER BY c.asset`, pipelineID)
	if err != nil {
		return nil, err
	}
	var (
		parts  []string
		params string
		ready  = true
	)
	for rows.Next() {
		var (
			asset        string
			last, newest int64
		)
		if err := rows.Scan(&asset, &last, &params, &newest); err != nil {
			rows.Close()
			return nil, err
		}
		if newest <= last {
			ready = false
		}
		parts = append(parts, fmt.Sprintf("%s:%d", asset, newest))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !ready || len(parts) == 0 {
		return nil, nil
	}
	key := strings.Join(parts, ",")
	if len(key) > store.MaxEventKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	if !json.Valid([]byte(params)) {
		params = "{}"
	}
	run, _, err := createRun(t, &store.RunCreateParams{
		PipelineID: pipelineID, Kind: store.RunAsset, LogicalDate: t.now,
		Key:   "asset__" + key,
		Event: &store.TriggerEvent{Source: store.AssetSource, Key: key},
	}, []byte(params))
	if err != nil {
		return nil, err
	}
	_, err = t.exec(`UPDATE asset_consumers SET last_event_id = (SELECT COALESCE(MAX(e.id), 0) FROM asset_events e WHERE e.asset = asset_consumers.asset)
		WHERE pipeline_id = ?`, pipelineID)
	return run, err
}

// saveConsumer sets the assets a pipeline is scheduled on. An asset new
// to the list starts from its newest event: events from before the
// pipeline waited for it do not count.
func saveConsumer(t *txn, p *store.PipelineSaveParams) error {
	assets := slices.Clone(p.Assets)
	slices.Sort(assets)
	assets = slices.Compact(assets)
	args := []any{p.ID}
	q := `DELETE FROM asset_consumers WHERE pipeline_id = ?`
	if len(assets) > 0 {
		q += ` AND asset NOT IN (` + placeholders(len(assets)) + `)`
		for _, a := range assets {
			args = append(args, a)
		}
	}
	if _, err := t.exec(q, args...); err != nil {
		return err
	}
	params := p.AssetParams
	if len(params) == 0 {
		params = []byte("{}")
	}
	for _, a := range assets {
		if _, err := t.exec(`INSERT INTO asset_consumers (pipeline_id, asset, last_event_id, params)
			VALUES (?, ?, COALESCE((SELECT MAX(id) FROM asset_events WHERE asset = ?), 0), ?)
			ON CONFLICT (pipeline_id, asset) DO UPDATE SET params = excluded.params`, p.ID, a, a, string(params)); err != nil {
			return err
		}
	}
	return nil
}
