// Package catalog keeps the store in step with a folder of pipeline files.
// Every role reads pipelines from the store, never from its own disk, so
// what the UI shows is what the scheduler runs; the catalog is the one
// place files come in.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
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
		})
	}
	return &store.PipelineSaveParams{
		ID:             p.ID,
		Hash:           p.Hash(),
		Source:         string(source),
		Spec:           p.Normalized(),
		File:           file,
		Schedule:       p.Schedule,
		MaxActiveRuns:  p.MaxActiveRuns,
		MaxActiveTasks: p.MaxActiveTasks,
		Retention:      p.Retention.D(),
		Callbacks:      callbacks(p.OnSuccess, p.OnFailure, nil),
		Tasks:          tasks,
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
type Loader struct {
	st      store.Store
	dir     string
	log     *slog.Logger
	metrics *metrics.Metrics

	mu     sync.Mutex
	files  map[string]fileStamp
	fileID map[string]string // path -> pipeline id it defines
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
	return &Loader{st: st, dir: dir, log: log, files: map[string]fileStamp{}, fileID: map[string]string{}}
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
	// Err is the file's parse errors (a pipeline.ErrorList) or another
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

// Sync loads every file that changed since the last Sync. It returns the
// results of the files it looked at.
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
	sort.Strings(paths)
	l.mu.Lock()
	defer l.mu.Unlock()
	var results []Result
	present := map[string]bool{}
	for _, path := range paths {
		present[path] = true
	}
	for path := range l.fileID {
		if !present[path] {
			delete(l.fileID, path)
			delete(l.files, path)
		}
	}
	if err := l.markMissing(ctx, abs, present); err != nil {
		return nil, err
	}
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		stamp := fileStamp{fi.ModTime(), fi.Size()}
		if old, ok := l.files[path]; ok && old == stamp {
			continue
		}
		r := l.load(ctx, path)
		if r.Err != nil && isStoreErr(r.Err) {
			return results, r.Err // try again next time
		}
		l.files[path] = stamp
		results = append(results, r)
	}
	return results, nil
}

func isStoreErr(err error) bool {
	var pe pipeline.ErrorList
	if errors.As(err, &pe) {
		return false
	}
	return sluice.ErrorCode(err) == sluice.EINTERNAL
}

func (l *Loader) load(ctx context.Context, path string) Result {
	r := Result{File: path}
	src, err := os.ReadFile(path)
	if err != nil {
		r.Err = &sluice.Error{Code: sluice.EINVALID, Message: err.Error()}
		return r
	}
	p, perr := pipeline.Parse(l.display(path), src)
	if perr != nil {
		r.ID = PeekID(src, path)
		r.Err = perr
		l.metrics.PipelineLoaded(true, false)
		l.log.Error("pipeline file has errors; its last good version stays live", "file", l.display(path), "pipeline", r.ID, "errors", perr.Error())
		if err := l.st.PipelineSetError(ctx, &store.PipelineSetErrorParams{ID: r.ID, File: path, Error: perr.Error()}); err != nil {
			r.Err = err
		}
		return r
	}
	r.ID, r.Hash = p.ID, p.Hash()
	if other := l.owner(p.ID, path); other != "" {
		msg := fmt.Sprintf("%s: pipeline id %q is already defined in %s; this file is ignored until one of them changes its id", l.display(path), p.ID, l.display(other))
		r.Err = &sluice.Error{Code: sluice.EINVALID, Message: msg}
		l.metrics.PipelineLoaded(true, false)
		l.log.Error("duplicate pipeline id", "file", l.display(path), "pipeline", p.ID, "first", l.display(other))
		_ = l.st.PipelineSetError(ctx, &store.PipelineSetErrorParams{ID: p.ID, File: other, Error: msg})
		return r
	}
	l.fileID[path] = p.ID
	res, err := l.st.PipelineSave(ctx, SaveParams(p, src, path))
	if err != nil {
		r.Err = err
		return r
	}
	r.Created, r.Changed = res.Created, res.Changed
	if res.Changed {
		l.metrics.PipelineLoaded(false, true)
		l.log.Info("pipeline loaded", "pipeline", p.ID, "version", p.Hash()[:12], "file", l.display(path))
	}
	return r
}

// owner returns the other file that defines pipeline id, if any.
func (l *Loader) owner(id, path string) string {
	for other, oid := range l.fileID {
		if oid == id && other != path {
			return other
		}
	}
	return ""
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

// markMissing marks the pipelines whose file in the folder is gone: they
// get no new runs, and keep their history until deleted. A file that comes
// back unmarks its pipeline when it is saved again.
func (l *Loader) markMissing(ctx context.Context, abs string, present map[string]bool) error {
	ps, err := l.st.PipelineList(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.File == "" || p.Missing || present[p.File] || !strings.HasPrefix(p.File, abs+string(filepath.Separator)) {
			continue
		}
		if _, err := os.Stat(p.File); err == nil {
			continue // outside the walk (a hidden folder) but there
		}
		l.log.Warn("pipeline file removed: the pipeline is missing and gets no new runs; delete it to remove its history",
			"pipeline", p.ID, "file", l.display(p.File))
		if err := l.st.PipelineSetMissing(ctx, p.ID, true); err != nil {
			return err
		}
	}
	return nil
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
