package scheduler

import (
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// folderEvents tells a scheduler's files watchers that their folder
// changed. They share one inotify instance: the kernel allows a user few
// of them (128 by default, with other programs taking some), and a
// scheduler may watch many folders. Without one, watchers poll.
type folderEvents struct {
	log *slog.Logger

	mu     sync.Mutex
	fsw    *fsnotify.Watcher // nil before the first use and after close
	failed bool              // no instance could be had: poll only
	done   chan struct{}     // closed when the dispatcher has stopped
	subs   map[string]map[chan struct{}]bool
	added  map[string]bool // the folders the kernel watches now
}

// subscribe returns a channel that receives a value (without blocking
// anyone) after each change in dir.
func (fe *folderEvents) subscribe(dir string) chan struct{} {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.fsw == nil && !fe.failed {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			fe.failed = true
			fe.log.Warn("cannot watch folders for changes (inotify); files triggers poll their folders instead", "err", err)
		} else {
			fe.fsw, fe.done = fsw, make(chan struct{})
			fe.subs, fe.added = map[string]map[chan struct{}]bool{}, map[string]bool{}
			go fe.dispatch(fsw, fe.done)
		}
	}
	ch := make(chan struct{}, 1)
	if fe.fsw != nil {
		if fe.subs[dir] == nil {
			fe.subs[dir] = map[chan struct{}]bool{}
		}
		fe.subs[dir][ch] = true
	}
	return ch
}

// unsubscribe stops the changes of dir reaching ch.
func (fe *folderEvents) unsubscribe(dir string, ch chan struct{}) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.fsw == nil {
		return
	}
	delete(fe.subs[dir], ch)
	if len(fe.subs[dir]) == 0 {
		delete(fe.subs, dir)
		if fe.added[dir] {
			_ = fe.fsw.Remove(dir)
			delete(fe.added, dir)
		}
	}
}

// ensure asks the kernel to watch dir, unless it does: a folder that was
// missing, removed or recreated is watched again by the next scan.
func (fe *folderEvents) ensure(dir string) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.fsw != nil && !fe.added[dir] && fe.fsw.Add(dir) == nil {
		fe.added[dir] = true
	}
}

// dispatch passes the kernel's events to the watchers of their folder.
func (fe *folderEvents) dispatch(fsw *fsnotify.Watcher, done chan struct{}) {
	defer close(done)
	for {
		select {
		case ev, ok := <-fsw.Events:
			if !ok {
				return
			}
			fe.mu.Lock()
			if ev.Has(fsnotify.Remove | fsnotify.Rename) {
				// The folder itself went: the kernel no longer watches it.
				delete(fe.added, ev.Name)
			}
			fe.notify(filepath.Dir(ev.Name))
			fe.notify(ev.Name)
			fe.mu.Unlock()
		case _, ok := <-fsw.Errors:
			if !ok {
				return
			}
			// The kernel dropped events (its queue overflowed): every
			// watcher scans.
			fe.mu.Lock()
			for dir := range fe.subs {
				fe.notify(dir)
			}
			fe.mu.Unlock()
		}
	}
}

// notify wakes the watchers of dir; the caller holds mu.
func (fe *folderEvents) notify(dir string) {
	for ch := range fe.subs[dir] {
		select {
		case ch <- struct{}{}:
		default: // a wake is already waiting
		}
	}
}

// close stops watching, once every watcher has stopped.
func (fe *folderEvents) close() {
	fe.mu.Lock()
	fsw, done := fe.fsw, fe.done
	fe.fsw, fe.failed = nil, false
	fe.mu.Unlock()
	if fsw != nil {
		_ = fsw.Close()
		<-done
	}
}
