package store

import (
	"context"
	"time"
)

// Files is the part of the store behind files triggers. A scheduler
// watches the folder and notices when a file has stopped changing; the
// store decides, in the transaction that creates the run, that the file
// runs its pipeline once: the arrival is a trigger event (exactly once
// across schedulers), and a row per file remembers the size and mtime
// that were handled. That row outlives the run's retention, so a file that
// stays in the folder does not run again when its run is pruned; the
// watcher forgets a file when it leaves the folder.
type Files interface {
	// FileWatchStart records that a files trigger watches Folder, with the
	// files found there that count as handled (Backlog). It reports
	// started == false, and records nothing, when the trigger already
	// watches that folder: the backlog is taken once, by one scheduler,
	// whatever restarts.
	FileWatchStart(ctx context.Context, p *FileWatchStartParams) (started bool, err error)
	// FileWatchNote records what keeps a files trigger from watching (its
	// folder is missing or unreadable, too many files), "" when nothing.
	FileWatchNote(ctx context.Context, pipelineID, source, problem string) error
	// FileWatchList returns the files triggers of a pipeline that have
	// been watched or noted, ordered by source; those of every pipeline,
	// ordered by pipeline and source, when pipelineID is empty.
	FileWatchList(ctx context.Context, pipelineID string) ([]*FileWatch, error)
	// FileWatchDelete forgets a files trigger and the files it handled.
	FileWatchDelete(ctx context.Context, pipelineID, source string) error
	// FileSeenList returns the files a trigger handled, ordered by path.
	FileSeenList(ctx context.Context, pipelineID, source string) ([]*FileSeen, error)
	// FileArrive starts the run of a file's arrival, exactly once per
	// (path, size, mtime): when that version of the file was handled
	// before (by a run, even one since pruned, or as backlog), or a racing
	// scheduler handles it, it returns created == false and the run, if
	// any is still there.
	FileArrive(ctx context.Context, p *FileArriveParams) (run *Run, created bool, err error)
	// FileForget forgets files that left a trigger's folder, so that a file
	// put back there later is a new arrival.
	FileForget(ctx context.Context, pipelineID, source string, paths []string) error
}

// FileWatch is the state of one files trigger.
type FileWatch struct {
	PipelineID string
	Source     string
	// Folder is what the backlog was taken for ("/data/in/*.csv"); empty
	// when the trigger never got to watch.
	Folder    string
	StartedAt *time.Time
	// Problem says what keeps the trigger from watching; empty when
	// nothing. ProblemAt is when it was first seen.
	Problem   string
	ProblemAt *time.Time
}

// FileSeen is one version of a file that a files trigger handled.
type FileSeen struct {
	// Path is the file's absolute path.
	Path string
	Size int64
	// MtimeNs is the file's modification time in Unix nanoseconds.
	MtimeNs int64
	// RunID is the run it started; nil for a file of the backlog.
	RunID *int64
}

// FileWatchStartParams are the arguments of Store.FileWatchStart.
type FileWatchStartParams struct {
	PipelineID string
	Source     string
	Folder     string
	Backlog    []FileSeen
}

// FileArriveParams are the arguments of Store.FileArrive.
type FileArriveParams struct {
	// Run is the run to create; its Event (source and key) is required.
	Run  *RunCreateParams
	File FileSeen
}
