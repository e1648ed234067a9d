package api

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// versionCache keeps decoded pipeline versions. Versions never change, so
// an entry never goes stale; the cache only bounds its size.
type versionCache struct {
	st store.Store
	mu sync.Mutex
	m  map[int64]*pipeline.Pipeline
}

// versionCacheSize bounds the cache. The pipelines list reads the live
// version of every pipeline, so a bound under the number of pipelines
// empties the cache on every list (1,000 pipelines took 250 ms a list).
const versionCacheSize = 8192

func newVersionCache(st store.Store) *versionCache {
	return &versionCache{st: st, m: map[int64]*pipeline.Pipeline{}}
}

// get returns a decoded version, shared: callers must not change it.
func (c *versionCache) get(ctx context.Context, id int64) (*pipeline.Pipeline, error) {
	c.mu.Lock()
	p := c.m[id]
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	v, err := c.st.VersionGet(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.add(v)
}

// add decodes a version fetched with its spec and keeps it.
func (c *versionCache) add(v *store.Version) (*pipeline.Pipeline, error) {
	p, err := pipeline.Decode(v.Spec)
	if err != nil {
		return nil, fmt.Errorf("version %d does not decode: %w", v.ID, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= versionCacheSize {
		clear(c.m)
	}
	c.m[v.ID] = p
	return p, nil
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// seconds is the time from start to end, or to now while end is nil; nil
// before start.
func seconds(start, end *time.Time, now time.Time) *float64 {
	if start == nil {
		return nil
	}
	to := now
	if end != nil {
		to = *end
	}
	s := max(to.Sub(*start).Seconds(), 0)
	s = float64(int64(s*1000)) / 1000 // milliseconds are enough
	return &s
}

// pipelineOut is the listed form of a pipeline; p is its decoded live
// version, nil when it has none.
func (a *API) pipelineOut(sp *store.Pipeline, p *pipeline.Pipeline, recent []*store.Run) Pipeline {
	out := Pipeline{
		ID: sp.ID, Schedule: sp.Schedule, Paused: sp.Paused, File: sp.File, Version: sp.Hash, VersionID: sp.VersionID, Missing: sp.Missing,
		LoadedAt: utc(sp.LoadedAt), ParseErrorAt: utcPtr(sp.ParseErrorAt), Timezone: "UTC",
		Params: map[string]Param{}, RecentRuns: []RunSummary{}, AssetWarnings: []string{}, Tags: sp.Tags, Events: []string{},
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	for line := range strings.SplitSeq(sp.AssetWarnings, "\n") {
		if strings.HasPrefix(line, "\thint: ") && len(out.AssetWarnings) > 0 {
			out.AssetWarnings[len(out.AssetWarnings)-1] += "\n" + line
		} else if line != "" {
			out.AssetWarnings = append(out.AssetWarnings, line)
		}
	}
	if sp.ParseError != "" {
		msg := sp.ParseError
		out.ParseError = &msg
	}
	if p != nil {
		out.Description, out.Schedule, out.Timezone = p.Description, p.Schedule, p.Timezone
		if ev := p.Events(); len(ev) > 0 {
			out.Events = ev
		}
		for name, prm := range p.Params {
			values := prm.Values
			if values == nil && prm.Type == pipeline.ParamEnum {
				values = []string{}
			}
			out.Params[name] = Param{Type: string(prm.Type), Default: prm.Default, Required: prm.Required, Values: values, Items: string(prm.Items), Description: prm.Description}
		}
		if next, ok := a.ctl.NextRun(sp, p); ok {
			out.NextRun = &next
		}
	}
	sort.Slice(recent, func(i, j int) bool { return recent[i].ID > recent[j].ID })
	for _, r := range recent {
		out.RecentRuns = append(out.RecentRuns, RunSummary{ID: r.ID, State: string(r.State), LogicalDate: utc(r.LogicalDate), Kind: string(r.Kind)})
	}
	return out
}

func versionOut(v *store.Version, liveID int64) Version {
	return Version{ID: v.ID, Hash: v.Hash, File: v.File, CreatedAt: utc(v.CreatedAt), Live: v.ID == liveID}
}

func (a *API) runOut(r *store.Run) Run {
	params := json.RawMessage(r.Params)
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	return Run{
		ID: r.ID, Pipeline: r.PipelineID, VersionID: r.VersionID, Key: r.Key, Kind: string(r.Kind),
		LogicalDate: utc(r.LogicalDate), Params: params, State: string(r.State), CreatedAt: utc(r.CreatedAt),
		StartedAt: utcPtr(r.StartedAt), FinishedAt: utcPtr(r.FinishedAt),
		DurationSeconds: seconds(r.StartedAt, r.FinishedAt, a.clock.Now()),
		ParentRunID:     r.ParentRunID, ParentTask: r.ParentTask,
	}
}

// instanceOut is a task instance; items are the instances of its items
// when it is a mapped task, in order.
func (a *API) instanceOut(in *store.Instance, items []*store.Instance) TaskInstance {
	out := TaskInstance{
		Task: in.TaskID, State: string(in.State), Attempts: in.Attempts, Failures: in.Failures,
		ReadyAt: utcPtr(in.ReadyAt), StartedAt: utcPtr(in.StartedAt), FinishedAt: utcPtr(in.FinishedAt),
		DurationSeconds: seconds(in.StartedAt, in.FinishedAt, a.clock.Now()), Blocked: in.Blocked, ItemsTotal: in.ItemsTotal,
		AllowFailure: in.AllowFailure, Note: in.Note,
	}
	if len(items) > 0 {
		out.Items = make([]TaskItem, 0, len(items))
		for _, it := range items {
			out.Items = append(out.Items, a.itemOut(it))
		}
	}
	return out
}

// itemOut is one item of a mapped task.
func (a *API) itemOut(in *store.Instance) TaskItem {
	item := ""
	if in.Item != nil {
		item = *in.Item
	}
	return TaskItem{
		MapIndex: in.MapIndex, Item: item, State: string(in.State), Attempts: in.Attempts, Blocked: in.Blocked,
		StartedAt: utcPtr(in.StartedAt), FinishedAt: utcPtr(in.FinishedAt), DurationSeconds: seconds(in.StartedAt, in.FinishedAt, a.clock.Now()),
	}
}

// byTask splits the instances of a run into its tasks (map index -1) and
// the items of its mapped tasks, by task id and in item order.
func byTask(ins []*store.Instance) (tasks []*store.Instance, items map[string][]*store.Instance) {
	items = map[string][]*store.Instance{}
	for _, in := range ins {
		if in.MapIndex < 0 {
			tasks = append(tasks, in)
			continue
		}
		items[in.TaskID] = append(items[in.TaskID], in)
	}
	for _, list := range items {
		sort.Slice(list, func(i, j int) bool { return list[i].MapIndex < list[j].MapIndex })
	}
	return tasks, items
}

func (a *API) attemptOut(at *store.Attempt) Attempt {
	start := at.StartedAt
	return Attempt{
		Number: at.Number, State: string(at.State), Worker: at.Worker, Image: at.Image, ContainerID: at.ContainerID, StartedAt: utc(at.StartedAt),
		FinishedAt: utcPtr(at.FinishedAt), DurationSeconds: seconds(&start, at.FinishedAt, a.clock.Now()),
		ExitCode: at.ExitCode, Error: at.Error,
	}
}

func userOut(u *store.User) User {
	return User{Name: u.Name, Role: string(u.Role), Disabled: u.Disabled, CreatedAt: utc(u.CreatedAt)}
}

func tokenOut(t *store.Token) Token {
	out := Token{ID: t.ID, Name: t.Name, Role: string(t.Role), System: t.System, Usable: t.System, CreatedBy: t.CreatedBy, CreatedAt: utc(t.CreatedAt),
		ExpiresAt: utcPtr(t.ExpiresAt), LastUsedAt: utcPtr(t.LastUsedAt)}
	if t.User != nil {
		out.User = t.User.Name
		out.Usable = !t.User.Disabled
	}
	return out
}
