package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// Files triggers. Every scheduler watches the folder of every files
// trigger of the live pipelines: fsnotify wakes it when the folder
// changes, and a poll (filesPoll) catches what the kernel does not tell,
// as on network file systems. What a watcher keeps in memory is only how
// long it has seen each new file unchanged: losing it (a restart) delays a
// run by stable_for, never loses or doubles one. Which files were handled,
// the backlog at the first watch and the exactly-once of each arrival are
// the store's (store.Files).

// Bounds of a files watcher.
const (
	// MaxFilesPerScan bounds the files of one folder that a watcher looks
	// at (stats and compares) per scan: the first ones by name. A folder
	// with more matching files gets a note on the pipeline's page, and its
	// other files wait until files before them leave.
	MaxFilesPerScan = 10_000
	// filesPoll is the longest a watcher goes without scanning its folder;
	// filesPollCost stretches it so that scans take at most 1/20 of the
	// watcher's time on a large folder.
	filesPoll     = 2 * time.Second
	filesPollCost = 20
	// filesReconcile is how often a scheduler looks for files triggers
	// that appeared, changed or went; a pipeline's change wakes it sooner.
	filesReconcile = 5 * time.Second
	// filesSettle gathers the burst of events of one write into one scan.
	filesSettle = 50 * time.Millisecond
)

// fileState is one version of a file: what "unchanged" compares.
type fileState struct {
	size    int64
	mtimeNs int64
}

// pendingFile is a file not yet handled, with since when it has been seen
// unchanged.
type pendingFile struct {
	state fileState
	since time.Time
}

// refusal is a version of a file whose run cannot start (its params do
// not bind), and why; it is tried again when the file or the pipeline
// changes.
type refusal struct {
	state fileState
	why   string
}

// fileTarget is what a watcher's arrivals run: the pipeline's live version
// and whether it is paused. The reconcile pass updates it.
type fileTarget struct {
	versionID int64
	p         *pipeline.Pipeline
	paused    bool
}

// fileWatch watches the folder of one files trigger.
type fileWatch struct {
	s          *Scheduler
	pipelineID string
	spec       *pipeline.Files
	source     string

	mu      sync.Mutex
	target  fileTarget
	started bool                    // the backlog is recorded and known loaded
	known   map[string]fileState    // by path: handled, in the store
	pending map[string]*pendingFile // by path: seen, not yet stable
	refused map[string]refusal      // by path: its run could not start
	noted   *string                 // the problem last written to the store
	// listed sums up the names seen by the last scan that forgot the
	// handled files that had left: while the names do not change, none
	// can have left since, and that pass is skipped.
	listed uint64

	cancel context.CancelFunc
	done   chan struct{}
}

// fileWatchers are a scheduler's watchers, by pipeline and source, and
// the kernel's events they share.
type fileWatchers struct {
	mu     sync.Mutex
	m      map[string]*fileWatch
	events folderEvents
}

func watchKey(pipelineID, source string) string { return pipelineID + "\x00" + source }

// filesLoop keeps a watcher running for each files trigger until ctx ends.
func (s *Scheduler) filesLoop(ctx context.Context) {
	defer s.stopFileWatches()
	for {
		wake := s.st.Wait(store.TopicPipelines)
		if err := s.reconcileFiles(ctx, true); err != nil && ctx.Err() == nil {
			s.log.Warn("cannot look for files triggers; trying again", "err", err)
		}
		timer := time.NewTimer(filesReconcile)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// ScanFiles looks for the files triggers of the live pipelines and scans
// each one's folder once, starting the runs of the files that arrived. It
// is the work of the watchers that Run keeps going, done in the caller's
// goroutine, for tests that move the clock themselves.
func (s *Scheduler) ScanFiles(ctx context.Context) error {
	if err := s.reconcileFiles(ctx, false); err != nil {
		return err
	}
	s.files.mu.Lock()
	ws := make([]*fileWatch, 0, len(s.files.m))
	for _, w := range s.files.m {
		ws = append(ws, w)
	}
	s.files.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].pipelineID+ws[i].source < ws[j].pipelineID+ws[j].source })
	for _, w := range ws {
		w.scan(ctx)
	}
	return nil
}

// reconcileFiles makes the watchers match the files triggers of the live
// pipelines: new triggers get a watcher (started in its own goroutine when
// start is true), changed ones a new one, and the watchers of triggers
// that went stop. A trigger removed from a pipeline that is still there
// is forgotten in the store too, so that adding it back starts afresh.
func (s *Scheduler) reconcileFiles(ctx context.Context, start bool) error {
	pipelines, err := s.st.PipelineList(ctx)
	if err != nil {
		return err
	}
	type want struct {
		spec   *pipeline.Files
		target fileTarget
	}
	wanted := map[string]want{}
	known := map[string]bool{} // pipelines whose live version was read
	for _, sp := range pipelines {
		if sp.VersionID == 0 || sp.Missing {
			continue
		}
		p, err := s.version(ctx, sp.VersionID)
		if err != nil {
			s.log.Warn("cannot read a pipeline's files triggers", "pipeline", sp.ID, "err", err)
			continue
		}
		known[sp.ID] = true
		for _, t := range p.Triggers {
			if t.Files != nil {
				wanted[watchKey(sp.ID, t.Files.Source())] = want{t.Files, fileTarget{versionID: sp.VersionID, p: p, paused: sp.Paused}}
			}
		}
	}
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	if s.files.m == nil {
		s.files.m = map[string]*fileWatch{}
	}
	for key, w := range s.files.m {
		wt, ok := wanted[key]
		if ok && sameFiles(wt.spec, w.spec) {
			w.mu.Lock()
			if w.target.versionID != wt.target.versionID {
				clear(w.refused) // the new version may take their params
			}
			w.target = wt.target
			w.mu.Unlock()
			continue
		}
		w.stop()
		delete(s.files.m, key)
	}
	// Forget the triggers that the live versions no longer have, whoever
	// watched them: the store is the list, not this scheduler's memory.
	watches, err := s.st.FileWatchList(ctx, "")
	if err != nil {
		return err
	}
	for _, fw := range watches {
		if _, ok := wanted[watchKey(fw.PipelineID, fw.Source)]; ok || !known[fw.PipelineID] {
			continue
		}
		s.log.Info("files trigger removed; what it handled is forgotten", "pipeline", fw.PipelineID, "trigger", fw.Source)
		if err := s.st.FileWatchDelete(ctx, fw.PipelineID, fw.Source); err != nil {
			return err
		}
	}
	for key, wt := range wanted {
		if _, ok := s.files.m[key]; ok {
			continue
		}
		w := &fileWatch{
			s: s, pipelineID: wt.target.p.ID, spec: wt.spec, source: wt.spec.Source(), target: wt.target,
			known: map[string]fileState{}, pending: map[string]*pendingFile{}, refused: map[string]refusal{},
		}
		s.files.m[key] = w
		if start {
			wctx, cancel := context.WithCancel(ctx)
			w.cancel, w.done = cancel, make(chan struct{})
			go func() { defer close(w.done); w.run(wctx) }()
		}
	}
	return nil
}

// stopFileWatches stops every watcher and waits for them.
func (s *Scheduler) stopFileWatches() {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	for key, w := range s.files.m {
		w.stop()
		delete(s.files.m, key)
	}
	s.files.events.close()
}

func sameFiles(a, b *pipeline.Files) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func (w *fileWatch) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
}

// run scans the folder when the kernel says it changed, when a pending
// file may have become stable, and at least every filesPoll.
func (w *fileWatch) run(ctx context.Context) {
	w.s.log.Info("watching for files", "pipeline", w.pipelineID, "trigger", w.source, "path", w.spec.Path, "pattern", w.spec.Pattern)
	events := &w.s.files.events
	changed := events.subscribe(w.spec.Path)
	defer events.unsubscribe(w.spec.Path, changed)
	for {
		events.ensure(w.spec.Path)
		start := time.Now()
		next := w.scan(ctx)
		cost := time.Since(start)
		wait := max(filesPoll, filesPollCost*cost)
		if next > 0 && next < wait {
			wait = next
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-changed:
			// Let the burst of one write pass; however busy the folder,
			// scans keep to their share of the time.
			if !sleep(ctx, max(filesSettle, filesPollCost*cost-time.Since(start))) {
				timer.Stop()
				return
			}
			select {
			case <-changed:
			default:
			}
		case <-timer.C:
		}
		timer.Stop()
	}
}

// sleep waits for d, or less when ctx ends first; it reports whether ctx
// is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// scan looks at the folder once: it records the backlog at the first
// watch, starts the runs of the files that stayed unchanged for
// stable_for, and forgets the files that left. It returns how long until
// the next pending file may be stable, 0 when none is pending.
func (w *fileWatch) scan(ctx context.Context) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.s.cfg.Clock.Now()
	names, sum, err := w.list()
	if err != nil {
		w.note(ctx, err.Error())
		return 0
	}
	if !w.started {
		if err := w.begin(ctx, names); err != nil {
			if ctx.Err() == nil {
				w.s.log.Warn("cannot record the files already in a folder; trying again", "pipeline", w.pipelineID, "trigger", w.source, "err", err)
			}
			return 0
		}
	}
	slices.Sort(names) // files arrive in the order of their names
	looked := names
	problem := ""
	if limit := w.s.cfg.FilesPerScan; len(names) > limit {
		looked = names[:limit]
		problem = fmt.Sprintf("%d files in %s match %s; only the first %d by name are watched: move the files that were handled out of the folder",
			len(names), w.spec.Path, w.spec.Pattern, limit)
	}
	stable := time.Duration(w.spec.StableFor)
	var soonest time.Duration
	for _, name := range looked {
		full := path.Join(w.spec.Path, name)
		fi, ok := statFile(full)
		if !ok {
			continue
		}
		st := fileState{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
		if k, ok := w.known[full]; ok && k == st {
			delete(w.pending, full)
			continue
		}
		if r, ok := w.refused[full]; ok && r.state == st {
			continue
		}
		pd := w.pending[full]
		if pd == nil || pd.state != st {
			pd = &pendingFile{state: st, since: now}
			w.pending[full] = pd
		}
		if left := stable - now.Sub(pd.since); left > 0 {
			if soonest == 0 || left < soonest {
				soonest = left
			}
			continue
		}
		if w.target.paused {
			// It runs when the pipeline is unpaused: the file is still
			// there, and still not handled.
			continue
		}
		if err := w.arrive(ctx, now, full, name, fi); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			if sluice.ErrorCode(err) == sluice.EINVALID {
				w.refused[full] = refusal{st, err.Error()}
				delete(w.pending, full)
				w.s.log.Warn("file arrived but its run cannot start", "pipeline", w.pipelineID, "trigger", w.source, "file", full, "err", err)
				continue
			}
			w.s.log.Warn("file arrived but its run was not recorded; trying again", "pipeline", w.pipelineID, "trigger", w.source, "file", full, "err", err)
		}
	}
	if sum != w.listed || len(w.known) > len(names) {
		if w.forgetGone(ctx, names, looked) {
			w.listed = sum
		}
	}
	if len(w.refused) > 0 {
		first := ""
		for full, r := range w.refused {
			if first == "" || full < first {
				first, problem = full, r.why
			}
		}
		if len(w.refused) > 1 {
			problem = fmt.Sprintf("%d files cannot start a run; the first: %s", len(w.refused), problem)
		}
	}
	w.note(ctx, problem)
	return soonest
}

// fnv64a is the 64-bit FNV-1a hash of s.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// list returns the names in the folder that match the pattern, in the
// folder's order, and a sum of them that does not depend on the order. It
// reads names only, in batches: a large folder costs its names, not file
// infos (subfolders are told apart later, by the stat of the files looked
// at).
func (w *fileWatch) list() ([]string, uint64, error) {
	dir, err := os.Open(w.spec.Path)
	if err != nil {
		return nil, 0, folderProblem(w.spec.Path, err)
	}
	defer dir.Close()
	var (
		names []string
		sum   uint64
	)
	for {
		batch, err := dir.Readdirnames(1024)
		for _, name := range batch {
			if w.spec.Match(name) {
				names = append(names, name)
				sum += fnv64a(name)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, folderProblem(w.spec.Path, err)
		}
		if len(batch) == 0 {
			break
		}
	}
	return names, sum, nil
}

// folderProblem words why a folder cannot be watched, for the pipeline's
// page.
// With several schedulers, the host tells which one sees the problem.
func folderProblem(dir string, err error) error {
	host, _ := os.Hostname()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("folder %s does not exist on %s: create it (sluice creates nothing), or fix path: in the pipeline file", dir, host)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("folder %s cannot be read on %s (permission denied): let the user running sluice read it", dir, host)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("folder %s cannot be read on %s: %v", dir, host, err)
}

// statFile returns a regular file's info, following a symbolic link.
func statFile(full string) (fs.FileInfo, bool) {
	fi, err := os.Stat(full)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	return fi, true
}

// begin records the backlog (with existing: ignore, the files there now)
// unless another scheduler or an earlier start did, and loads what the
// trigger handled.
func (w *fileWatch) begin(ctx context.Context, names []string) error {
	var backlog []store.FileSeen
	if w.spec.Existing != pipeline.ExistingRun {
		for _, name := range names {
			full := path.Join(w.spec.Path, name)
			if fi, ok := statFile(full); ok {
				backlog = append(backlog, store.FileSeen{Path: full, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()})
			}
		}
	}
	started, err := w.s.st.FileWatchStart(ctx, &store.FileWatchStartParams{
		PipelineID: w.pipelineID, Source: w.source, Folder: path.Join(w.spec.Path, w.spec.Pattern), Backlog: backlog,
	})
	if err != nil {
		return err
	}
	seen, err := w.s.st.FileSeenList(ctx, w.pipelineID, w.source)
	if err != nil {
		return err
	}
	clear(w.known)
	for _, f := range seen {
		w.known[f.Path] = fileState{size: f.Size, mtimeNs: f.MtimeNs}
	}
	if started {
		w.s.log.Info("files trigger started watching", "pipeline", w.pipelineID, "trigger", w.source, "path", w.spec.Path,
			"existing", w.spec.Existing, "backlog_ignored", len(backlog))
	}
	w.started = true
	return nil
}

// arrive starts the run of a file that stayed unchanged for stable_for.
func (w *fileWatch) arrive(ctx context.Context, now time.Time, full, name string, fi fs.FileInfo) error {
	p := w.target.p
	given, err := w.spec.Given(pipeline.FileFacts{Path: full, Name: name, Size: fi.Size(), Mtime: fi.ModTime()})
	if err != nil {
		return err
	}
	bound, err := p.BindParams(given)
	if err != nil {
		return sluice.Errorf(sluice.EINVALID, "file %s: %v", full, err)
	}
	raw, err := json.Marshal(bound)
	if err != nil {
		return err
	}
	st := fileState{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
	run, created, err := w.s.st.FileArrive(ctx, &store.FileArriveParams{
		Run: &store.RunCreateParams{
			PipelineID: w.pipelineID, VersionID: w.target.versionID, Kind: store.RunFiles, LogicalDate: now, Params: raw,
			Key:   "files__" + now.UTC().Format("2006-01-02T15:04:05.000000Z") + "__" + randomSuffix(),
			Event: &store.TriggerEvent{Source: w.source, Key: FileEventKey(full, st.size, st.mtimeNs)},
		},
		File: store.FileSeen{Path: full, Size: st.size, MtimeNs: st.mtimeNs},
	})
	if err != nil {
		return err
	}
	w.known[full] = st
	delete(w.pending, full)
	if created {
		w.s.log.Info("run triggered", "pipeline", w.pipelineID, "run", run.ID, "by", w.source, "file", full, "size", st.size)
	}
	return nil
}

// forgetGone forgets the handled files that are no longer in the folder,
// and drops what it kept of pending and refused files that went or that
// it no longer looks at. names and looked are sorted. It reports whether
// the store forgot what it had to.
func (w *fileWatch) forgetGone(ctx context.Context, names, looked []string) bool {
	in := func(list []string, full string) bool {
		dir, name := path.Split(full)
		if path.Clean(dir) != w.spec.Path {
			return false
		}
		_, ok := slices.BinarySearch(list, name)
		return ok
	}
	var gone []string
	for full := range w.known {
		if !in(names, full) {
			gone = append(gone, full)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		if err := w.s.st.FileForget(ctx, w.pipelineID, w.source, gone); err != nil {
			w.s.log.Warn("cannot forget files that left the folder; trying again", "pipeline", w.pipelineID, "trigger", w.source, "err", err)
			return false
		}
		for _, full := range gone {
			delete(w.known, full)
		}
	}
	for full := range w.pending {
		if !in(looked, full) {
			delete(w.pending, full)
		}
	}
	for full := range w.refused {
		if !in(names, full) {
			delete(w.refused, full)
		}
	}
	return true
}

// note records the watcher's problem ("" for none) in the store, for the
// pipeline's page, and logs it, each time it changes.
func (w *fileWatch) note(ctx context.Context, problem string) {
	if w.noted != nil && *w.noted == problem {
		return
	}
	if problem != "" {
		w.s.log.Warn("files trigger blocked", "pipeline", w.pipelineID, "trigger", w.source, "problem", problem)
	} else if w.noted != nil {
		w.s.log.Info("files trigger unblocked", "pipeline", w.pipelineID, "trigger", w.source)
	}
	if err := w.s.st.FileWatchNote(ctx, w.pipelineID, w.source, problem); err != nil {
		if ctx.Err() == nil && sluice.ErrorCode(err) != sluice.ENOTFOUND {
			w.s.log.Warn("cannot record a files trigger's problem", "pipeline", w.pipelineID, "trigger", w.source, "err", err)
		}
		return
	}
	w.noted = &problem
}

// FileEventKey is the dedup key of a file's arrival: its path, size and
// mtime, or their SHA-256 when that is longer than a key may be.
func FileEventKey(full string, size, mtimeNs int64) string {
	key := fmt.Sprintf("%s|%d|%d", full, size, mtimeNs)
	if len(key) <= store.MaxEventKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseFileEventKey reads a file's path, size and mtime (Unix
// nanoseconds) back from its arrival's FileEventKey; ok is false for a
// hashed key, which names no file, and for text that is not such a key.
func ParseFileEventKey(key string) (full string, size, mtimeNs int64, ok bool) {
	rest, mtime, found := cutLast(key, "|")
	if !found {
		return "", 0, 0, false
	}
	full, sz, found := cutLast(rest, "|")
	if !found || full == "" {
		return "", 0, 0, false
	}
	var err1, err2 error
	size, err1 = strconv.ParseInt(sz, 10, 64)
	mtimeNs, err2 = strconv.ParseInt(mtime, 10, 64)
	if err1 != nil || err2 != nil || size < 0 {
		return "", 0, 0, false
	}
	return full, size, mtimeNs, true
}

// cutLast is strings.Cut at the last sep: a path may hold the separator.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
