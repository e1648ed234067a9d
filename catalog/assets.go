package catalog

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/pipeline"
)

// Asset links run across pipeline files: one file's task produces what
// another's schedule waits for. So what is wrong with them shows only
// when the files are read together, and it is a warning, never an error
// that would keep a file from loading:
//
//   - a schedule that waits for an asset no pipeline produces may be fed
//     from outside (sluice assets emit, POST /api/v1/assets/{name}/events);
//     the warning says so, in case the name is a typo;
//   - pipelines that wait for each other's assets in a cycle start each
//     other's runs for as long as their producing tasks succeed. A cycle
//     can be meant (a when: that skips the producing task ends it; an
//     any:/all: that also waits for an outside asset paces it), so it is
//     reported with its path, not refused; pausing one pipeline of the
//     cycle stops it.

// AssetWarning is a problem with the asset links between pipelines.
type AssetWarning struct {
	// Pipeline and File are the pipeline the warning is about and its
	// file; Line and Col are where the file names the asset, 0 when not
	// known.
	Pipeline, File string
	Line, Col      int
	Message, Hint  string
}

// String returns "FILE:LINE:COL: warning: message" and the hint on the
// next line, as sluice validate prints it.
func (w AssetWarning) String() string {
	at := w.File
	if w.Line > 0 {
		at = fmt.Sprintf("%s:%d:%d", w.File, w.Line, w.Col)
	}
	s := at + ": warning: " + w.Message
	if w.Hint != "" {
		s += "\n\thint: " + w.Hint
	}
	return s
}

// AssetFile is a parsed pipeline with its file and source, for
// CheckAssets.
type AssetFile struct {
	File     string
	Src      []byte
	Pipeline *pipeline.Pipeline
}

// AssetView returns what CheckAssets reads of p and its source: the id,
// the assets it is scheduled on, and the tasks that produce assets with
// only their Produces; the source only when p is scheduled on assets (a
// warning's position is in such a file). A Loader keeps this view of
// every file instead of the file and its whole pipeline: a pipeline of
// 10,000 tasks is megabytes.
func AssetView(f AssetFile) AssetFile {
	p := f.Pipeline
	if p == nil {
		return AssetFile{File: f.File}
	}
	v := &pipeline.Pipeline{ID: p.ID, Assets: p.Assets}
	for id, t := range p.Tasks {
		if len(t.Produces) > 0 {
			if v.Tasks == nil {
				v.Tasks = map[string]*pipeline.Task{}
			}
			v.Tasks[id] = &pipeline.Task{ID: id, Produces: t.Produces}
		}
	}
	out := AssetFile{File: f.File, Pipeline: v}
	if len(p.Assets) > 0 {
		out.Src = f.Src
	}
	return out
}

// CheckAssets returns the warnings about the asset links between the
// pipelines: assets a schedule waits for that no pipeline produces, and
// cycles of pipelines through assets (each once, from its smallest
// pipeline id). The result is sorted by file and position.
func CheckAssets(files []AssetFile) []AssetWarning {
	producers := map[string][]string{} // asset -> pipeline ids
	byID := map[string]AssetFile{}
	for _, f := range files {
		p := f.Pipeline
		if p == nil {
			continue
		}
		byID[p.ID] = f
		// The order of the tasks does not matter: producers lists
		// pipelines, in the order of files.
		for _, t := range p.Tasks {
			for _, a := range t.Produces {
				if !slices.Contains(producers[a], p.ID) {
					producers[a] = append(producers[a], p.ID)
				}
			}
		}
	}
	var out []AssetWarning
	// next: the pipelines each pipeline's success can start, with the asset.
	next := map[string][]assetLink{}
	for _, f := range files {
		p := f.Pipeline
		if p == nil {
			continue
		}
		for _, a := range p.Assets {
			ps := producers[a]
			if len(ps) == 0 {
				line, col := assetAt(f.Src, a)
				out = append(out, AssetWarning{
					Pipeline: p.ID, File: f.File, Line: line, Col: col,
					Message: fmt.Sprintf("schedule: assets: no pipeline produces %s; only events sent from outside (sluice assets emit, the API) update it", a),
					Hint:    fmt.Sprintf("add produces: [%s] to the task that writes it, or send events with sluice assets emit %s", a, a),
				})
			}
			for _, from := range ps {
				next[from] = append(next[from], assetLink{p.ID, a})
			}
		}
	}
	// Cycles: a depth-first search from each pipeline in id order; a cycle
	// is reported from its smallest id, so each is reported once.
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for id := range next {
		sort.Slice(next[id], func(i, j int) bool {
			a, b := next[id][i], next[id][j]
			return a.to < b.to || a.to == b.to && a.asset < b.asset
		})
	}
	reported := map[string]bool{}
	for _, start := range ids {
		var path []assetLink
		onPath := map[string]bool{start: true}
		// dead: pipelines from which start cannot be reached, so the
		// search visits each at most once per start.
		dead := map[string]bool{}
		var walk func(at string) bool
		walk = func(at string) bool {
			for _, l := range next[at] {
				if l.to < start {
					continue // a cycle through a smaller id is reported from it
				}
				if l.to == start {
					cycle := append(slices.Clone(path), l)
					key := cycleKey(start, cycle)
					if !reported[key] {
						reported[key] = true
						out = append(out, cycleWarning(byID[start], start, cycle))
					}
					return true
				}
				if onPath[l.to] || dead[l.to] {
					continue
				}
				onPath[l.to] = true
				path = append(path, l)
				found := walk(l.to)
				path = path[:len(path)-1]
				onPath[l.to] = false
				if found {
					return true
				}
				dead[l.to] = true
			}
			return false
		}
		walk(start)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return out
}

// assetLink is an edge of the graph of pipelines: a success of the
// pipeline it leaves can start pipeline to, through asset.
type assetLink struct{ to, asset string }

func cycleKey(start string, cycle []assetLink) string {
	var b strings.Builder
	b.WriteString(start)
	for _, l := range cycle {
		b.WriteString(">" + l.asset + ">" + l.to)
	}
	return b.String()
}

// cycleWarning describes a cycle as "a --x--> b --y--> a".
func cycleWarning(f AssetFile, start string, cycle []assetLink) AssetWarning {
	var b strings.Builder
	b.WriteString(start)
	for _, l := range cycle {
		fmt.Fprintf(&b, " --%s--> %s", l.asset, l.to)
	}
	last := cycle[len(cycle)-1]
	line, col := assetAt(f.Src, last.asset)
	return AssetWarning{
		Pipeline: start, File: f.File, Line: line, Col: col,
		Message: "pipelines start each other through assets in a cycle: " + b.String() + "; each success starts the next run, for as long as the producing tasks succeed",
		Hint:    "break the cycle, or end it on purpose (a when: that skips the producing task); pausing one pipeline of it stops it",
	}
}

var scheduleKey = regexp.MustCompile(`(?m)^(?:schedule|"schedule"|'schedule')[ \t]*:`)

// assetAt returns where src names asset in its schedule: the first time
// the name appears after the top-level schedule key; 0, 0 when not found.
func assetAt(src []byte, asset string) (line, col int) {
	m := scheduleKey.FindIndex(src)
	if m == nil {
		return 0, 0
	}
	i := bytes.Index(src[m[1]:], []byte(asset))
	if i < 0 {
		return 0, 0
	}
	at := m[1] + i
	line = bytes.Count(src[:at], []byte("\n")) + 1
	col = at - (bytes.LastIndexByte(src[:at], '\n') + 1) + 1
	return line, col
}

// checkAssets computes the asset warnings of the loaded files, logs those
// that are new, keeps them for AssetWarnings, and records them on their
// pipelines in the store when they changed, for the API and the UI. The
// caller holds l.mu.
func (l *Loader) checkAssets(ctx context.Context) error {
	var files []AssetFile
	for _, id := range sortedKeys(l.owner) {
		if f := l.files[l.owner[id]]; f != nil && f.linked.Pipeline != nil {
			files = append(files, f.linked)
		}
	}
	warnings := CheckAssets(files)
	seen := map[string]bool{}
	for _, w := range l.warnings {
		seen[w.String()] = true
	}
	byPipeline := map[string]string{}
	for _, w := range warnings {
		if !seen[w.String()] {
			l.log.Warn("pipeline assets: "+w.Message, "pipeline", w.Pipeline, "file", w.File, "line", w.Line, "hint", w.Hint)
		}
		if byPipeline[w.Pipeline] != "" {
			byPipeline[w.Pipeline] += "\n"
		}
		byPipeline[w.Pipeline] += w.String()
	}
	l.warnings = warnings
	if l.stored != nil && maps.Equal(l.stored, byPipeline) {
		return nil
	}
	if err := l.st.PipelineSetAssetWarnings(ctx, byPipeline); err != nil {
		return err
	}
	l.stored = byPipeline
	return nil
}

// AssetWarnings returns the warnings about the asset links between the
// pipelines of the folder, as of the last Sync (see CheckAssets).
func (l *Loader) AssetWarnings() []AssetWarning {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.warnings)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
