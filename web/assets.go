package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
)

// The Assets pages: every known asset with its newest event, producers
// and consumers, and per asset its recent events and the lineage around
// it — which pipelines make it and which wait for it, across pipelines.
// An asset name is user input holding / : @ + =: links carry it as one
// escaped path segment (assetHref), and the templates escape it as text.

const (
	// assetsMax bounds the Assets page's list.
	assetsMax = 1000
	// lineageMaxNodes bounds the lineage drawing of the Assets page: a
	// bigger graph is not readable as one picture.
	lineageMaxNodes = 120
	// assetEventsShown is how many recent events an asset's page lists.
	assetEventsShown = 25
	// lineageMaxW is the widest box of a lineage drawing.
	lineageMaxW = 340.0
)

type assetsData struct {
	Assets []*store.AssetInfo
	// More says the list was cut at assetsMax.
	More    bool
	Lineage *lineageView
	// LineageTooBig says the lineage has more than lineageMaxNodes nodes.
	LineageTooBig bool
}

type assetData struct {
	A         *store.AssetInfo
	Events    []*store.AssetEvent
	Consumers []*assetConsumerRow
	Lineage   *lineageView
}

// assetConsumerRow is a pipeline scheduled on the asset and where it
// stands with it; State is nil when the pipeline just stopped waiting.
type assetConsumerRow struct {
	Pipeline string
	State    *store.AssetConsumerState
}

// assetHref links to an asset's page, its name one escaped path segment.
func assetHref(name string) string { return "/assets/" + url.PathEscape(name) }

func (w *Web) assetsPage(rw http.ResponseWriter, r *http.Request) error {
	list, err := w.st.AssetList(r.Context(), &store.AssetListParams{Limit: assetsMax + 1})
	if err != nil {
		return err
	}
	d := &assetsData{Assets: list}
	if len(list) > assetsMax {
		d.Assets, d.More = list[:assetsMax], true
	}
	g := lineageOf(d.Assets)
	if len(g.nodes) > lineageMaxNodes {
		d.LineageTooBig = true
	} else if len(g.nodes) > 0 {
		d.Lineage = g.draw("")
	}
	return w.render(rw, http.StatusOK, "assets", w.newView(r, "Assets", "assets", d))
}

func (w *Web) assetPage(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if !pipeline.ValidAssetName(name) {
		return sluice.Errorf(sluice.EINVALID, "%q is not an asset name: up to 128 letters, digits and _ . : / @ + = -, such as warehouse.orders", name)
	}
	a, err := w.st.AssetGet(ctx, name)
	if err != nil {
		return err
	}
	d := &assetData{A: a}
	if d.Events, err = w.st.AssetEventList(ctx, name, assetEventsShown); err != nil {
		return err
	}
	for _, p := range a.Consumers {
		row := &assetConsumerRow{Pipeline: p}
		states, err := w.st.AssetConsumerStatus(ctx, p)
		if err != nil {
			return err
		}
		for _, s := range states {
			if s.Asset == name {
				row.State = s
			}
		}
		d.Consumers = append(d.Consumers, row)
	}
	// The lineage around the asset: everything upstream and downstream of
	// it across pipelines, from the whole list (assets are few).
	all, err := w.st.AssetList(ctx, &store.AssetListParams{Limit: assetsMax})
	if err != nil {
		return err
	}
	g := lineageOf(all).around(assetNode(name))
	if len(g.nodes) > lineageMaxNodes {
		g = lineageOf([]*store.AssetInfo{a})
	}
	d.Lineage = g.draw(assetNode(name))
	return w.render(rw, http.StatusOK, "asset", w.newView(r, name+" · Assets", "assets", d))
}

// Lineage.

// lineage is the graph of pipelines and assets: an edge from each
// producing pipeline to its asset and from each asset to the pipelines
// scheduled on it. Node ids are "p:" + pipeline id or "a:" + asset name.
type lineage struct {
	nodes []string
	deps  map[string][]string // node → its upstream nodes
}

func pipelineNode(id string) string { return "p:" + id }
func assetNode(name string) string  { return "a:" + name }
func nodeKind(n string) (kind, name string) {
	if strings.HasPrefix(n, "p:") {
		return "pipeline", n[2:]
	}
	return "asset", n[2:]
}

func lineageOf(assets []*store.AssetInfo) *lineage {
	g := &lineage{deps: map[string][]string{}}
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			g.nodes = append(g.nodes, n)
		}
	}
	edge := func(from, to string) {
		if !slices.Contains(g.deps[to], from) {
			g.deps[to] = append(g.deps[to], from)
		}
	}
	for _, a := range assets {
		an := assetNode(a.Name)
		for _, p := range a.Producers {
			add(pipelineNode(p.PipelineID))
			add(an)
			edge(pipelineNode(p.PipelineID), an)
		}
		for _, p := range a.Consumers {
			add(an)
			add(pipelineNode(p))
			edge(an, pipelineNode(p))
		}
	}
	g.nodes = g.order()
	return g
}

// order sorts the nodes so that each comes after its upstream nodes
// (Kahn's algorithm, by name among the ready ones). A cycle through
// assets (which loading reports) is entered at a node some of whose
// upstream nodes are already placed, so that only the edge closing the
// cycle points backwards; draw leaves that edge out.
func (g *lineage) order() []string {
	names := slices.Clone(g.nodes)
	slices.Sort(names)
	placed := map[string]bool{}
	out := make([]string, 0, len(names))
	for len(out) < len(names) {
		pick, best := "", -1
		for _, n := range names {
			if placed[n] {
				continue
			}
			done, all := 0, true
			for _, u := range g.deps[n] {
				if placed[u] {
					done++
				} else {
					all = false
				}
			}
			if all {
				pick = n
				break
			}
			if done > best {
				pick, best = n, done
			}
		}
		placed[pick] = true
		out = append(out, pick)
	}
	return out
}

// around returns the part of g upstream and downstream of n, with the
// other direct inputs of what is downstream.
func (g *lineage) around(n string) *lineage {
	down := map[string][]string{}
	for to, froms := range g.deps {
		for _, f := range froms {
			down[f] = append(down[f], to)
		}
	}
	keep := map[string]bool{n: true}
	walk := func(next map[string][]string) []string {
		var seen []string
		queue := []string{n}
		for len(queue) > 0 {
			x := queue[0]
			queue = queue[1:]
			for _, y := range next[x] {
				if !keep[y] {
					keep[y] = true
					seen = append(seen, y)
					queue = append(queue, y)
				}
			}
		}
		return seen
	}
	walk(g.deps)
	// What the pipelines downstream also wait for is part of the story
	// ("weekly waits for this and crm.customers"), one step back.
	for _, x := range walk(down) {
		for _, u := range g.deps[x] {
			keep[u] = true
		}
	}
	out := &lineage{deps: map[string][]string{}}
	for _, x := range g.nodes {
		if keep[x] {
			out.nodes = append(out.nodes, x)
			for _, u := range g.deps[x] {
				if keep[u] {
					out.deps[x] = append(out.deps[x], u)
				}
			}
		}
	}
	return out
}

// lineageView is the SVG drawing of a lineage.
type lineageView struct {
	Width, Height float64
	Nodes         []lineageNode
	Edges         []graphEdge
	Pipelines     int
	Assets        int
}

type lineageNode struct {
	// Kind is "pipeline" or "asset".
	Kind, Name, Label, Href string
	// Current marks the asset whose page this is.
	Current    bool
	X, Y, W, H float64
}

// draw lays g out; current, when not empty, is the node to highlight.
func (g *lineage) draw(current string) *lineageView {
	// Asset names run longer than task ids: a wider box before cutting.
	width := func(n string) float64 {
		_, name := nodeKind(n)
		return math.Max(graphMinW, math.Min(lineageMaxW, float64(utf8.RuneCountInString(name))*graphCharW+graphPadW+12))
	}
	// Only edges that point forwards in g's order: the one edge that
	// closes a cycle is left out (see order).
	index := map[string]int{}
	for i, n := range g.nodes {
		index[n] = i
	}
	deps := map[string][]string{}
	for n, ups := range g.deps {
		for _, u := range ups {
			if index[u] < index[n] {
				deps[n] = append(deps[n], u)
			}
		}
	}
	lay := layoutDAG(g.nodes, deps, width)
	v := &lineageView{Width: math.Ceil(lay.Width), Height: math.Ceil(lay.Height)}
	for _, b := range lay.Boxes {
		kind, name := nodeKind(b.ID)
		n := lineageNode{Kind: kind, Name: name, Label: graphLabel(name, b.W), Current: b.ID == current, X: b.X, Y: b.Y, W: b.W, H: b.H}
		if kind == "pipeline" {
			n.Href = "/pipelines/" + url.PathEscape(name)
			v.Pipelines++
		} else {
			n.Href = assetHref(name)
			v.Assets++
		}
		v.Nodes = append(v.Nodes, n)
	}
	for _, e := range lay.Edges {
		v.Edges = append(v.Edges, graphEdge{D: edgePath(e.Points)})
	}
	return v
}

// Waiting for assets, on a pipeline's page.

// assetWait is what a pipeline scheduled on assets waits for: each asset,
// fresh when it has an event the pipeline has not consumed yet.
type assetWait struct {
	Waiting, Fresh []*store.AssetConsumerState
}

// loadAssetWait returns what the pipeline waits for; nil when it is not
// scheduled on assets.
func (w *Web) loadAssetWait(ctx context.Context, pipelineID string) (*assetWait, error) {
	states, err := w.st.AssetConsumerStatus(ctx, pipelineID)
	if err != nil || len(states) == 0 {
		return nil, err
	}
	aw := &assetWait{}
	for _, s := range states {
		if s.Fresh() {
			aw.Fresh = append(aw.Fresh, s)
		} else {
			aw.Waiting = append(aw.Waiting, s)
		}
	}
	return aw, nil
}

// Triggered by, on a run's page.

// runTrigger says what made a run: its kind in words and, for a webhook
// run, the delivery, for an asset run, the events it consumed.
type runTrigger struct {
	Kind string
	// Webhook is the webhook's source ("webhook" or "webhook/<name>") and
	// Delivery its delivery key, empty when the delivery had none.
	Webhook, Delivery string
	ReceivedAt        time.Time
	// Files is the files trigger's source ("files" or "files/<name>") of a
	// files run, and File the file whose arrival started it; nil when its
	// key is a hash, which names no file.
	Files string
	File  *arrivedFile
	// Events are the asset events an asset run consumed that are still
	// stored; Assets name each consumed asset with its event id, also
	// for events retention already pruned.
	Events []*store.AssetEvent
	Assets []consumedAsset
}

// arrivedFile is the version of a file whose arrival started a run.
type arrivedFile struct {
	Path  string
	Size  int64
	Mtime time.Time
}

// consumedAsset is one asset an asset-triggered run consumed.
type consumedAsset struct {
	Name    string
	EventID int64
	Event   *store.AssetEvent
}

// runKindText says in words why a run of a kind exists.
var runKindText = map[store.RunKind]string{
	store.RunScheduled: "its schedule",
	store.RunManual:    "hand (UI, API or CLI)",
	store.RunBackfill:  "a backfill",
	store.RunWebhook:   "a webhook delivery",
	store.RunAsset:     "new events of the assets it is scheduled on",
	store.RunFiles:     "a file arriving in a watched folder",
}

func (w *Web) loadRunTrigger(ctx context.Context, run *store.Run) (*runTrigger, error) {
	t := &runTrigger{Kind: runKindText[run.Kind]}
	if t.Kind == "" {
		t.Kind = string(run.Kind)
	}
	if run.Kind != store.RunWebhook && run.Kind != store.RunAsset && run.Kind != store.RunFiles {
		return t, nil
	}
	trs, err := w.st.RunTriggerList(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, tr := range trs {
		if tr.Source == store.AssetSource {
			t.ReceivedAt = tr.ReceivedAt
			for _, c := range store.ParseAssetKey(tr.Key) {
				t.Assets = append(t.Assets, consumedAsset{Name: c.Asset, EventID: c.EventID})
			}
			continue
		}
		if pipeline.IsFilesSource(tr.Source) {
			t.Files, t.ReceivedAt = tr.Source, tr.ReceivedAt
			if path, size, mtime, ok := scheduler.ParseFileEventKey(tr.Key); ok {
				t.File = &arrivedFile{Path: path, Size: size, Mtime: time.Unix(0, mtime)}
			}
			continue
		}
		if t.Webhook == "" {
			t.Webhook, t.ReceivedAt = tr.Source, tr.ReceivedAt
			if !strings.HasPrefix(tr.Key, "unkeyed__") {
				t.Delivery = tr.Key
			}
		}
	}
	for _, c := range t.Assets {
		ids = append(ids, c.EventID)
	}
	if len(ids) == 0 {
		return t, nil
	}
	if t.Events, err = w.st.AssetEventsByID(ctx, ids); err != nil {
		return nil, err
	}
	for i := range t.Assets {
		for _, e := range t.Events {
			if e.ID == t.Assets[i].EventID {
				t.Assets[i].Event = e
			}
		}
	}
	return t, nil
}

// ExtraOf is an event's extra values as key=value pairs, sorted by key.
func (d *assetData) ExtraOf(e *store.AssetEvent) []keyValue {
	var m map[string]string
	if json.Unmarshal(e.Extra, &m) != nil {
		return nil
	}
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		out = append(out, keyValue{k, v})
	}
	slices.SortFunc(out, func(x, y keyValue) int { return strings.Compare(x.Key, y.Key) })
	return out
}
