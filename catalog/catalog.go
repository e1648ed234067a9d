// Package catalog keeps the store in step with a folder of pipeline files.
// Every role reads pipelines from the store, never from its own disk, so
// what the UI shows is what the scheduler runs; the catalog is the one
// place files come in.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// SaveParams returns the store's view of a parsed pipeline.
func SaveParams(p *pipeline.Pipeline, source []byte, file string) *store.PipelineSaveParams {
	tasks := make([]store.VersionTask, 0, len(p.Tasks))
	for _, id := range p.TopoOrder() {
		t := p.Tasks[id]
		tasks = append(tasks, store.VersionTask{
			TaskID:      id,
			Upstream:    t.DependsOn,
			TriggerRule: sluice.TriggerRule(t.TriggerRule),
			Priority:    t.Priority,
			Retry: sluice.RetryPolicy{
				Retries:     t.Retries,
				Delay:       time.Duration(t.RetryDelay),
				Exponential: t.RetryBackoff == pipeline.BackoffExponential,
				MaxDelay:    time.Duration(t.MaxRetryDelay),
			},
			Pool:          t.Pool,
			PoolSlots:     t.PoolSlots,
			Requires:      t.Requires,
			Mapped:        t.ForEach != nil,
			MaxParallel:   t.MaxParallel,
			Callbacks:     callbacks(t.OnSuccess, t.OnFailure, t.OnRetry),
			QueuedTimeout: t.QueuedTimeout.D(),
			Produces:      t.Produces,
			AllowFailure:  t.AllowFailure,
		})
	}
	var assetParams []byte
	if len(p.Assets) > 0 {
		// Parse made sure every required param has a default.
		if bound, err := p.BindParams(nil); err == nil {
			assetParams, _ = json.Marshal(bound)
		}
	}
	var assetCondition []byte
	if p.AssetCondition != nil {
		assetCondition, _ = json.Marshal(p.AssetCondition)
	}
	// The hash is of the spec: encoded once, not twice.
	spec := p.Normalized()
	sum := sha256.Sum256(spec)
	return &store.PipelineSaveParams{
		ID:             p.ID,
		Hash:           hex.EncodeToString(sum[:]),
		Source:         string(source),
		Spec:           spec,
		File:           file,
		Schedule:       p.Schedule,
		MaxActiveRuns:  p.MaxActiveRuns,
		MaxActiveTasks: p.MaxActiveTasks,
		Retention:      p.Retention.D(),
		Callbacks:      callbacks(p.OnSuccess, p.OnFailure, nil),
		Tasks:          tasks,
		Assets:         p.Assets,
		AssetParams:    assetParams,
		AssetCondition: assetCondition,
		Description:    p.Description,
		Tags:           p.Tags,
	}
}

// callbacks returns the store's bits for the callbacks that are set.
func callbacks(success, failure, retry *pipeline.Action) int {
	bits := 0
	if success != nil {
		bits |= store.CallbackSuccess
	}
	if failure != nil {
		bits |= store.CallbackFailure
	}
	if retry != nil {
		bits |= store.CallbackRetry
	}
	return bits
}

// Loader loads the pipeline files of a folder (and its subfolders) into a
// store: a valid file becomes the live version of its pipeline, a broken
// one records its errors next to the last good version, which stays live.
//
// A pipeline id belongs to one file. When several files define the same
// id, one of them stays loaded (the one that was, else the first by name)
// and the pipeline shows an error naming them all, until one is left:
// then that one is loaded and the error goes, whichever file went.
type Loader struct {
	st      store.Store
	dir     string
	log     *slog.Logger
	metrics *metrics.Metrics

	mu sync.Mutex
	// files are the pipeline files of the folder as last read, by path.
	files map[string]*folderFile
	// owner is the file loaded for each pipeline id.
	owner map[string]string
	// clash is the duplicate error stored for each id more than one file
	// defines.
	clash map[string]string
	// warnings are the asset warnings of the last Sync; stored is what
	// the store has of them, by pipeline (nil: not written yet).
	warnings []AssetWarning
	stored   map[string]string
	// checked is when a Sync last went through the store (see sync).
	checked time.Time
}

// recheckEvery is how often a Sync of a folder where no file changed still
// goes through the store: marking missing the pipelines no file defines,
// and the asset warnings. Otherwise a rescan of an unchanged folder only
// stats its files: at 2,000 files the store pass (the list of every
// pipeline, the asset checks) was 30-40 ms and 4.5 MB of garbage, every
// rescan interval.
const recheckEvery = time.Minute

// folderFile is what the Loader knows of one pipeline file.
type folderFile struct {
	stamp fileStamp
	// def is the id the file defines, and where; a file that does not
	// parse defines the id PeekID finds.
	def Definition
	// hash is its pipeline's version hash; empty when it does not parse.
	hash string
	// linked is the file for CheckAssets; its Pipeline is nil when the
	// file does not parse.
	linked AssetFile
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewLoader returns a Loader of dir into st.
func NewLoader(st store.Store, dir string, log *slog.Logger) *Loader {
	if log == nil {
		log = slog.Default()
	}
	l := &Loader{st: st, dir: dir, log: log}
	l.reset()
	return l
}

// reset forgets what the Loader knows, so the next Sync loads every file
// again, as a new Loader would.
func (l *Loader) reset() {
	l.files, l.owner, l.clash = map[string]*folderFile{}, map[string]string{}, map[string]string{}
	l.stored = nil
	l.checked = time.Time{}
}

// SetMetrics makes the loader count parse errors and new versions.
func (l *Loader) SetMetrics(m *metrics.Metrics) { l.metrics = m }

// Result is what loading one file came to.
type Result struct {
	File string
	ID   string
	Hash string
	// Created reports a new version; Changed that the live version changed.
	Created, Changed bool
	// Err is the file's parse errors (a pipeline.ErrorList), a
	// *DuplicateError when another file defines its id too, or another
	// problem with it.
	Err error
}

// IsPipelineFile reports whether name looks like a pipeline file.
func IsPipelineFile(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, ".") {
		return false
	}
	ext := filepath.Ext(base)
	return ext == ".yaml" || ext == ".yml"
}

// Sync brings the store in step with the folder: it reads the files that
// changed since the last Sync, loads the file of each pipeline id whose
// file or clash changed, and marks missing the pipelines no file defines
// any more. It returns the results of the files it read or loaded. After
// a store error the next Sync loads every file again.
func (l *Loader) Sync(ctx context.Context) ([]Result, error) {
	abs, err := filepath.Abs(l.dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == abs {
				return err
			}
			return nil // an unreadable subfolder does not stop the rest
		}
		if d.IsDir() && path != abs && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && IsPipelineFile(path) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pipelines folder: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	results, err := l.sync(ctx, abs, paths)
	if err != nil {
		l.reset()
	}
	return results, err
}

// parsed is a file read and parsed in this Sync.
type parsed struct {
	src []byte
	p   *pipeline.Pipeline
	err error // a parse error (pipeline.ErrorList) or a read error
}

func (l *Loader) sync(ctx context.Context, abs string, paths []string) ([]Result, error) {
	present := map[string]bool{}
	for _, path := range paths {
		present[path] = true
	}
	changed := false
	for path := range l.files {
		if !present[path] {
			delete(l.files, path)
			changed = true
		}
	}
	// Read what changed.
	read := map[string]*parsed{}
	var results []Result
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		stamp := fileStamp{fi.ModTime(), fi.Size()}
		old := l.files[path]
		if old != nil && old.stamp == stamp {
			continue
		}
		pf := l.read(path)
		f := &folderFile{stamp: stamp, def: l.definition(path, pf)}
		if pf.p != nil {
			f.hash = pf.p.Hash()
			f.linked = AssetView(AssetFile{File: l.display(path), Src: pf.src, Pipeline: pf.p})
		} else if old != nil {
			// The last good version stays live, and so do its assets.
			f.linked = old.linked
		}
		if pf.p == nil && old != nil && pf.src == nil {
			f.def = old.def // unreadable now: it still stands for its id
		}
		l.files[path] = f
		read[path] = pf
		changed = true
	}
	// Nothing came, went or changed since a Sync that went through the
	// store: it would load nothing and find nothing missing.
	now := time.Now()
	if !changed && !l.checked.IsZero() && now.Sub(l.checked) < recheckEvery {
		return nil, nil
	}
	// Group the files by the id they define.
	byID := map[string][]string{}
	for path, f := range l.files {
		byID[f.def.ID] = append(byID[f.def.ID], path)
	}
	stored, err := l.markMissing(ctx, abs, present, byID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		files := byID[id]
		sort.Strings(files)
		owner := l.pickOwner(id, files, stored[id])
		var dup *DuplicateError
		if len(files) > 1 {
			defs := make([]Definition, len(files))
			for i, f := range files {
				defs[i] = l.files[f].def
			}
			dup = &DuplicateError{ID: id, Defs: defs, Loaded: l.display(owner)}
		}
		for _, f := range files {
			if f != owner && read[f] != nil {
				results = append(results, Result{File: f, ID: id, Err: dup})
			}
		}
		// The owner is loaded when it changed, when it took over from
		// another file, and when its clash ended (loading clears the
		// pipeline's error).
		load := read[owner] != nil || l.owner[id] != owner || (dup == nil && l.clash[id] != "")
		l.owner[id] = owner
		var perr error
		if load {
			pf := read[owner]
			if pf == nil {
				pf = l.read(owner)
			}
			r := l.load(ctx, owner, pf)
			if r.Err != nil && isStoreErr(r.Err) {
				return results, r.Err
			}
			results = append(results, r)
			if pf.p == nil {
				perr = pf.err
			}
		}
		if dup == nil {
			delete(l.clash, id)
			continue
		}
		msg := dup.Error()
		if perr != nil {
			msg = perr.Error() + "\n" + msg
		}
		if !load && l.clash[id] == msg {
			continue
		}
		if l.clash[id] != msg {
			l.metrics.PipelineLoaded(true, false)
			l.log.Error("several files define one pipeline id; one is loaded, the others are ignored", "pipeline", id, "loaded", l.display(owner), "files", dup.Error())
		}
		if err := l.st.PipelineSetError(ctx, &store.PipelineSetErrorParams{ID: id, File: owner, Error: msg}); err != nil {
			return results, err
		}
		l.clash[id] = msg
	}
	for id := range l.owner {
		if byID[id] == nil {
			delete(l.owner, id)
			delete(l.clash, id)
		}
	}
	if err := l.checkAssets(ctx); err != nil {
		return results, err
	}
	l.checked = now
	sort.SliceStable(results, func(i, j int) bool { return results[i].File < results[j].File })
	return results, nil
}

// read reads and parses one file.
func (l *Loader) read(path string) *parsed {
	src, err := pipeline.ReadFile(path)
	if err != nil {
		return &parsed{err: &sluice.Error{Code: sluice.EINVALID, Message: err.Error()}}
	}
	p, err := pipeline.Parse(l.display(path), src)
	return &parsed{src: src, p: p, err: err}
}

// definition returns the id a file read defines, and where.
func (l *Loader) definition(path string, pf *parsed) Definition {
	d := Definition{File: l.display(path)}
	if pf.p != nil {
		d.ID = pf.p.ID
	} else {
		d.ID = PeekID(pf.src, path)
	}
	d.Line, d.Col = IDAt(pf.src)
	return d
}

// pickOwner chooses the file loaded for id among the files that define
// it: the one loaded so far; else (after a restart or a rename) the
// pipeline's file in the store, or a file with its live version; else the
// first by name.
func (l *Loader) pickOwner(id string, files []string, sp *store.Pipeline) string {
	if prev := l.owner[id]; slices.Contains(files, prev) {
		return prev
	}
	if sp != nil {
		if slices.Contains(files, sp.File) {
			return sp.File
		}
		for _, f := range files {
			if sp.Hash != "" && l.files[f].hash == sp.Hash {
				return f
			}
		}
	}
	return files[0]
}

func isStoreErr(err error) bool {
	var pe pipeline.ErrorList
	if errors.As(err, &pe) {
		return false
	}
	return sluice.ErrorCode(err) == sluice.EINTERNAL
}

// load stores a file as its pipeline's: a valid one as its live version,
// a broken one as its errors.
func (l *Loader) load(ctx context.Context, path string, pf *parsed) Result {
	r := Result{File: path}
	if pf.src == nil {
		r.Err = pf.err
		return r
	}
	if pf.p == nil {
		r.ID = PeekID(pf.src, path)
		r.Err = pf.err
		l.metrics.PipelineLoaded(true, false)
		l.log.Error("pipeline file has errors; its last good version stays live", "file", l.display(path), "pipeline", r.ID, "errors", pf.err.Error())
		if err := l.st.PipelineSetError(ctx, &store.PipelineSetErrorParams{ID: r.ID, File: path, Error: pf.err.Error()}); err != nil {
			r.Err = err
		}
		return r
	}
	p := pf.p
	r.ID, r.Hash = p.ID, p.Hash()
	res, err := l.st.PipelineSave(ctx, SaveParams(p, pf.src, path))
	if err != nil {
		r.Err = err
		return r
	}
	r.Created, r.Changed = res.Created, res.Changed
	if res.Changed {
		l.metrics.PipelineLoaded(false, true)
		l.log.Info("pipeline loaded", "pipeline", p.ID, "version", p.Hash()[:12], "file", l.display(path))
		for _, w := range p.Warnings {
			l.log.Warn("pipeline file warning", "pipeline", p.ID, "at", fmt.Sprintf("%s:%d:%d", l.display(path), w.Line, w.Col), "warning", w.Msg, "hint", w.Hint)
		}
	}
	return r
}

// display shortens a path for messages: relative to the working directory
// when it is below it.
func (l *Loader) display(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}

// markMissing marks the pipelines of the folder that no file in it
// defines any more (their file went, or now defines another id): they get
// no new runs, and keep their history until deleted. A file that defines
// one again unmarks it when it is loaded. It returns the stored pipelines
// by id.
func (l *Loader) markMissing(ctx context.Context, abs string, present map[string]bool, byID map[string][]string) (map[string]*store.Pipeline, error) {
	ps, err := l.st.PipelineList(ctx)
	if err != nil {
		return nil, err
	}
	stored := make(map[string]*store.Pipeline, len(ps))
	for _, p := range ps {
		stored[p.ID] = p
		if p.File == "" || p.Missing || len(byID[p.ID]) > 0 || !strings.HasPrefix(p.File, abs+string(filepath.Separator)) {
			continue
		}
		if !present[p.File] {
			if _, err := os.Stat(p.File); err == nil {
				continue // outside the walk (a hidden folder) but there
			}
		}
		l.log.Warn("no file defines the pipeline any more: it is missing and gets no new runs; delete it to remove its history",
			"pipeline", p.ID, "file", l.display(p.File))
		if err := l.st.PipelineSetMissing(ctx, p.ID, true); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// Run keeps the store in step with the folder until ctx ends: it syncs on
// file system events (a saved change is live within a moment) and every
// interval, for file systems that send no events (network mounts). A
// database that cannot be reached is logged once when it goes and once
// when it comes back.
func (l *Loader) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	events := l.watch(ctx)
	health := store.NewHealth(l.log, "pipeline loader")
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-events:
		}
		_, err := l.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			health.Observe(nil)
			lastErr = ""
		case isStoreErr(err):
			health.Observe(err)
		case err.Error() != lastErr: // a folder problem, once per change
			lastErr = err.Error()
			l.log.Warn("pipelines folder sync failed", "dir", l.dir, "err", err)
		}
	}
}

var idLine = regexp.MustCompile(`(?m)^id:\s*["']?([A-Za-z0-9_][A-Za-z0-9_.-]*)["']?\s*(#.*)?$`)

// PeekID finds the pipeline id of a file that does not parse, so its
// errors show next to the right pipeline; failing that, the file's name.
func PeekID(src []byte, path string) string {
	if m := idLine.FindSubmatch(src); m != nil {
		return string(m[1])
	}
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// watch returns a channel that receives, debounced, when something changes
// in the folder or its subfolders. Without file system events it never
// receives, and the periodic rescan does the work.
func (l *Loader) watch(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		l.log.Warn("no file system events; relying on the periodic rescan", "err", err)
		return out
	}
	add := func(root string) {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if path != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				_ = w.Add(path)
			}
			return nil
		})
	}
	add(l.dir)
	go func() {
		defer w.Close()
		var timer *time.Timer
		fire := make(chan struct{}, 1)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
						add(ev.Name) // a new subfolder
					}
				}
				// Editors save in bursts (write, rename, chmod): gather
				// what comes in the next 100ms into one sync. The window
				// is not extended by later events, so a busy folder is
				// still synced every 100ms.
				if timer == nil {
					timer = time.AfterFunc(100*time.Millisecond, func() {
						select {
						case fire <- struct{}{}:
						default:
						}
					})
				}
			case <-fire:
				timer = nil
				select {
				case out <- struct{}{}:
				default:
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				l.log.Warn("file system events failed; relying on the periodic rescan", "err", err)
			}
		}
	}()
	return out
}
