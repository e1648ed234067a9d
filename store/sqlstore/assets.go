package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Asset-triggered runs are made in the transaction that records the event
// that completes them: a producer's success and its consumers' runs commit
// together, so no event is lost between the two and no poll stands between
// them.
//
// A consumer's rows in asset_consumers hold, per asset, the newest event
// its last asset-triggered run consumed; an asset with a newer event is
// fresh. The consumer runs when its condition (pipelines.asset_condition:
// any/all over its assets; '' for all of them) holds over the fresh ones,
// and the run marks every asset consumed. Two transactions that each add the event
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
	if len(p.Key) > store.MaxEventKeyLen {
		return nil, sluice.Errorf(sluice.EINVALID, "the event's key is %d bytes; at most %d are allowed", len(p.Key), store.MaxEventKeyLen)
	}
	var res *store.AssetEventResult
	err := db.inTx(ctx, "AssetEventCreate", func(t *txn) error {
		res = &store.AssetEventResult{}
		if p.Key != "" {
			// The unique index makes a racing twin wait for this
			// transaction, then find its row: one event per key.
			var id int64
			err := t.queryRow(`INSERT INTO asset_events (asset, pipeline_id, run_id, task_id, extra, created_at, dedup_key)
				VALUES (?, '', NULL, '', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`, p.Asset, string(extra), us(t.now), p.Key).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				res.Repeat = true
				res.Event, err = scanAssetEvent(t.queryRow(`SELECT `+assetEventColumns+` FROM asset_events WHERE asset = ? AND dedup_key = ?`, p.Asset, p.Key))
				return err
			}
			if err != nil {
				return err
			}
			if res.Event, err = scanAssetEvent(t.queryRow(`SELECT `+assetEventColumns+` FROM asset_events WHERE id = ?`, id)); err != nil {
				return err
			}
			res.Runs, err = wakeConsumers(t, []string{p.Asset}, nil)
			return err
		}
		id, err := insertAssetEvent(t, p.Asset, "", nil, "", extra)
		if err != nil {
			return err
		}
		if res.Event, err = scanAssetEvent(t.queryRow(`SELECT `+assetEventColumns+` FROM asset_events WHERE id = ?`, id)); err != nil {
			return err
		}
		res.Runs, err = wakeConsumers(t, []string{p.Asset}, nil)
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

// produceAssets records an asset event for each asset the produced
// instances' tasks produce, and starts the runs they complete. produced
// holds only the instances whose callbacks carry CallbackProduces (the
// finisher collects them), so a success of a task that produces nothing
// costs no query here. An output named asset.KEY of the instance (extras
// by instance id) becomes KEY in the extra of each of its events.
func produceAssets(t *txn, produced []int64, extras map[int64]map[string]string) error {
	if len(produced) == 0 {
		return nil
	}
	type made struct {
		instanceID, runID  int64
		task, pipeline, as string
	}
	var todo []made
	for _, part := range chunks(sortedIDs(produced), maxBatch) {
		rows, err := t.query(`SELECT ti.id, ti.run_id, ti.task_id, r.pipeline_id, vt.produces
			FROM task_instances ti JOIN runs r ON r.id = ti.run_id
			JOIN version_tasks vt ON vt.version_id = r.version_id AND vt.task_id = ti.task_id
			WHERE ti.id IN (`+placeholders(len(part))+`) AND ti.map_index = -1 AND ti.state = 'success' AND vt.produces <> ''`, int64Args(part)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var m made
			if err := rows.Scan(&m.instanceID, &m.runID, &m.task, &m.pipeline, &m.as); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var assets, producers []string
	for _, m := range todo {
		producers = append(producers, m.pipeline)
		extra := assetExtra(extras[m.instanceID])
		for _, a := range strings.Split(strings.Trim(m.as, ","), ",") {
			if _, err := insertAssetEvent(t, a, m.pipeline, m.runID, m.task, extra); err != nil {
				return err
			}
			assets = append(assets, a)
		}
	}
	slices.Sort(assets)
	_, err := wakeConsumers(t, slices.Compact(assets), producers)
	return err
}

// boundedTriggerEvents returns the JSON of the events a run consumed, at
// most store.MaxTriggerEventsJSON long: its tasks get it as one
// environment variable, and Linux refuses to start a program with a
// variable over 128 KiB. Past the bound the oldest events are left out,
// those that are not their asset's newest first.
func boundedTriggerEvents(evs []*store.AssetEvent) ([]byte, error) {
	b, err := json.Marshal(evs)
	if err != nil || len(b) <= store.MaxTriggerEventsJSON {
		return b, err
	}
	newest := map[string]int64{}
	for _, e := range evs {
		newest[e.Asset] = max(newest[e.Asset], e.ID)
	}
	// The order in which events go: older non-newest first, then the
	// oldest newest ones.
	order := slices.Clone(evs)
	slices.SortFunc(order, func(a, b *store.AssetEvent) int {
		an, bn := newest[a.Asset] == a.ID, newest[b.Asset] == b.ID
		if an != bn {
			if an {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	size := len(b)
	drop := map[int64]bool{}
	for _, e := range order[:len(order)-1] {
		if size <= store.MaxTriggerEventsJSON {
			break
		}
		one, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		drop[e.ID] = true
		size -= len(one) + 1
	}
	kept := slices.DeleteFunc(slices.Clone(evs), func(e *store.AssetEvent) bool { return drop[e.ID] })
	return json.Marshal(kept)
}

// MaxAssetExtraJSON bounds the extra of an event a task produces, as
// JSON: the outputs named asset.KEY are taken in key order while they fit.
const MaxAssetExtraJSON = 16 << 10

// AssetExtraPrefix starts the name of an output that goes into the extra
// of the asset events of its task: asset.rows=42 gives {"rows": "42"}.
const AssetExtraPrefix = "asset."

// assetExtra returns the JSON of the extra an instance's outputs give.
func assetExtra(outputs map[string]string) []byte {
	extra := map[string]string{}
	for k, v := range outputs {
		if key, ok := strings.CutPrefix(k, AssetExtraPrefix); ok && key != "" {
			extra[key] = v
		}
	}
	b, err := json.Marshal(extra)
	if err != nil {
		return []byte("{}")
	}
	if len(b) > MaxAssetExtraJSON {
		kept, size := map[string]string{}, 2
		for _, k := range slices.Sorted(maps.Keys(extra)) {
			one, _ := json.Marshal(map[string]string{k: extra[k]})
			if size+len(one)-1 > MaxAssetExtraJSON {
				continue
			}
			kept[k] = extra[k]
			size += len(one) - 1
		}
		b, _ = json.Marshal(kept)
	}
	return b
}

// wakeConsumers starts a run of each pipeline scheduled on the assets
// whose condition now holds. The pipeline rows it may lock (the
// consumers', and the producers', which the transaction locks again when
// a producer's run ends) are locked first, all at once, in id order: a
// cycle of pipelines through assets, each finishing at the same time,
// then waits in line instead of deadlocking.
func wakeConsumers(t *txn, assets, producers []string) ([]*store.Run, error) {
	pipelines, err := t.strings(`SELECT DISTINCT pipeline_id FROM asset_consumers WHERE asset IN (`+placeholders(len(assets))+`) ORDER BY pipeline_id`, stringArgs(assets)...)
	if err != nil || len(pipelines) == 0 {
		return nil, err
	}
	lock := append(slices.Clone(pipelines), producers...)
	slices.Sort(lock)
	lock = slices.Compact(lock)
	if t.db.d.ForUpdate != "" {
		if _, err := t.strings(`SELECT id FROM pipelines WHERE id IN (`+placeholders(len(lock))+`) ORDER BY id`+t.db.d.ForPipeline, stringArgs(lock)...); err != nil {
			return nil, err
		}
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

// wakeConsumer starts a run of the pipeline if its asset condition holds
// (each asset has a new event, for a plain list), records the events the
// run consumed, and marks every asset of the pipeline consumed up to its
// newest event, as Airflow does: an event of an asset the condition did
// not need is not kept for the next run.
func wakeConsumer(t *txn, pipelineID string) (*store.Run, error) {
	var (
		live      sql.NullInt64
		paused    bool
		condition string
	)
	// The lock orders this check after any other transaction's that
	// holds it (see the top of this file).
	err := t.queryRow(`SELECT version_id, paused, asset_condition FROM pipelines WHERE id = ?`+t.db.d.ForPipeline, pipelineID).Scan(&live, &paused, &condition)
	if err != nil || paused || !live.Valid {
		return nil, err
	}
	rows, err := t.query(`SELECT c.asset, c.last_event_id, c.params, COALESCE((SELECT MAX(e.id) FROM asset_events e WHERE e.asset = c.asset), 0)
		FROM asset_consumers c WHERE c.pipeline_id = ? ORDER BY c.asset`, pipelineID)
	if err != nil {
		return nil, err
	}
	type state struct {
		asset        string
		last, newest int64
	}
	var (
		parts  []string
		params string
		assets []state
		fresh  = map[string]bool{}
	)
	for rows.Next() {
		var a state
		if err := rows.Scan(&a.asset, &a.last, &params, &a.newest); err != nil {
			rows.Close()
			return nil, err
		}
		assets = append(assets, a)
		fresh[a.asset] = a.newest > a.last
		parts = append(parts, fmt.Sprintf("%s:%d", a.asset, a.newest))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	names := make([]string, len(assets))
	for i, a := range assets {
		names[i] = a.asset
	}
	if len(assets) == 0 || !consumerCondition(condition, names).Holds(func(a string) bool { return fresh[a] }) {
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
	run, created, err := createRun(t, &store.RunCreateParams{
		PipelineID: pipelineID, Kind: store.RunAsset, LogicalDate: t.now,
		Key:   "asset__" + key,
		Event: &store.TriggerEvent{Source: store.AssetSource, Key: key},
	}, []byte(params))
	if err != nil {
		return nil, err
	}
	if created {
		var consumed []*store.AssetEvent
		for _, a := range assets {
			if !fresh[a.asset] {
				continue
			}
			evs, err := scanAssetEvents(t.query(`SELECT `+assetEventColumns+` FROM asset_events WHERE asset = ? AND id > ? AND id <= ? ORDER BY id DESC LIMIT ?`,
				a.asset, a.last, a.newest, store.MaxTriggerEventsPerAsset))
			if err != nil {
				return nil, err
			}
			slices.Reverse(evs)
			consumed = append(consumed, evs...)
		}
		b, err := boundedTriggerEvents(consumed)
		if err != nil {
			return nil, err
		}
		if _, err := t.exec(`UPDATE runs SET trigger_events = ? WHERE id = ?`, string(b), run.ID); err != nil {
			return nil, err
		}
	}
	for _, a := range assets {
		if a.newest > a.last {
			if _, err := t.exec(`UPDATE asset_consumers SET last_event_id = ? WHERE pipeline_id = ? AND asset = ?`, a.newest, pipelineID, a.asset); err != nil {
				return nil, err
			}
		}
	}
	return run, nil
}

// consumerCondition decodes a pipeline's asset condition; ” (a plain
// list) or a condition that does not decode is all of its assets.
func consumerCondition(raw string, names []string) *sluice.AssetCondition {
	if raw != "" {
		var c sluice.AssetCondition
		if json.Unmarshal([]byte(raw), &c) == nil {
			return &c
		}
	}
	return sluice.AllAssets(names)
}

// strings reads a column of text.
func (t *txn) strings(query string, args ...any) ([]string, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func scanAssetEvents(rows *sql.Rows, err error) ([]*store.AssetEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.AssetEvent
	for rows.Next() {
		e, err := scanAssetEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RunTriggerEvents implements store.Store.
func (db *DB) RunTriggerEvents(ctx context.Context, runID int64) ([]*store.AssetEvent, error) {
	var raw string
	err := db.readRow(ctx, db.q(`SELECT trigger_events FROM runs WHERE id = ?`), runID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "run %d not found", runID)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return decodeTriggerEvents(raw)
}

func decodeTriggerEvents(raw string) ([]*store.AssetEvent, error) {
	if raw == "" {
		return nil, nil
	}
	var out []*store.AssetEvent
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("trigger events of the run are not JSON: %w", err)
	}
	return out, nil
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
	if _, err := t.exec(`UPDATE pipelines SET asset_condition = ? WHERE id = ?`, string(p.AssetCondition), p.ID); err != nil {
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

// triggerEventsOf is the claim's view of a run's trigger_events column.
func triggerEventsOf(raw string) []byte {
	if raw == "" {
		return nil
	}
	return []byte(raw)
}

// prunableAssetEvents selects, with the cutoff as argument, the events
// pruneAssetEvents may delete.
const prunableAssetEvents = `FROM asset_events e
		WHERE e.created_at < ?
			AND e.id < (SELECT MAX(n.id) FROM asset_events n WHERE n.asset = e.asset)
			AND e.id <= COALESCE((SELECT MIN(c.last_event_id) FROM asset_consumers c WHERE c.asset = e.asset), e.id)`

// countAssetPrune counts what pruneAssetEvents would delete, for a
// preview.
func (db *DB) countAssetPrune(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := db.readRow(ctx, db.q(`SELECT COUNT(*) `+prunableAssetEvents), us(cutoff)).Scan(&n)
	return n, err
}

// assetPruneBatch bounds the asset events one RetentionPrune deletes.
const assetPruneBatch = 1000

// pruneAssetEvents deletes asset events created before cutoff that no
// pending trigger needs: per asset it keeps the newest event (what the
// Assets page shows as the last one) and every event newer than the
// oldest its consumers have consumed (last_event_id), which the next run
// of a consumer records as its trigger events. Runs keep their own copy
// of the events they consumed, so pruning takes nothing from them. It
// reports how many went and whether more are due.
func pruneAssetEvents(t *txn, cutoff time.Time) (int64, bool, error) {
	res, err := t.exec(`DELETE FROM asset_events WHERE id IN (
		SELECT e.id `+prunableAssetEvents+` ORDER BY e.id LIMIT ?)`, us(cutoff), assetPruneBatch)
	if err != nil {
		return 0, false, err
	}
	n, err := res.RowsAffected()
	return n, n >= assetPruneBatch, err
}

// PipelineSetAssetWarnings implements store.Store.
func (db *DB) PipelineSetAssetWarnings(ctx context.Context, warnings map[string]string) error {
	return dbErr(db.inTx(ctx, "PipelineSetAssetWarnings", func(t *txn) error {
		ids := slices.Sorted(maps.Keys(warnings))
		q, args := `UPDATE pipelines SET asset_warnings = '' WHERE asset_warnings <> ''`, []any{}
		if len(ids) > 0 {
			q += ` AND id NOT IN (` + placeholders(len(ids)) + `)`
			args = stringArgs(ids)
		}
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := t.exec(`UPDATE pipelines SET asset_warnings = ? WHERE id = ?`, warnings[id], id); err != nil {
				return err
			}
		}
		t.notify(store.TopicPipelines)
		return nil
	}))
}
