package pipeline

import (
	"time"
)

// Pipeline is one parsed and validated pipeline file in its normalized form:
// defaults are merged into every task, durations are resolved, and every
// optional field holds its effective value. Two files that mean the same
// thing normalize to equal Pipelines and therefore to the same Hash.
type Pipeline struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	// Schedule is the cron expression as written ("0 3 * * *", "@daily",
	// "@every 10m"). Empty means the pipeline only runs when triggered.
	Schedule string `json:"schedule,omitempty"`
	// Timezone is an IANA zone name; "UTC" when the file names none.
	Timezone string `json:"timezone"`
	// Start and End bound the logical dates of scheduled runs; nil means
	// unbounded. A date-only value in the file is midnight in Timezone.
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
	// Catchup creates one run per missed interval since Start when true; when
	// false (the default) only the latest due interval gets a run.
	Catchup bool `json:"catchup"`
	// MaxActiveRuns bounds the runs of this pipeline that run at once;
	// default 16.
	MaxActiveRuns int `json:"max_active_runs"`
	// Params are the typed inputs of a run, keyed by name.
	Params map[string]*Param `json:"params,omitempty"`
	// Tasks are keyed by task id.
	Tasks map[string]*Task `json:"tasks"`
}

// ParamType is the type of a pipeline parameter.
type ParamType string

// The parameter types.
const (
	ParamString ParamType = "string"
	ParamInt    ParamType = "int"
	ParamFloat  ParamType = "float"
	ParamBool   ParamType = "bool"
	ParamEnum   ParamType = "enum"
)

// Param is one typed input of a run.
type Param struct {
	Type        ParamType `json:"type"`
	Description string    `json:"description,omitempty"`
	// Default is the value used when a trigger gives none: a string, int64,
	// float64 or bool matching Type; nil when there is no default.
	Default any `json:"default,omitempty"`
	// Required params must be given by the trigger (or have a Default).
	Required bool `json:"required,omitempty"`
	// Values lists the allowed values of an enum param.
	Values []string `json:"values,omitempty"`
}

// Backoff is how the delay between retries grows.
type Backoff string

// The retry backoffs.
const (
	// BackoffFixed waits RetryDelay before every retry.
	BackoffFixed Backoff = "fixed"
	// BackoffExponential waits RetryDelay * 2^(n-1) before retry n, with
	// jitter, capped by MaxRetryDelay.
	BackoffExponential Backoff = "exponential"
)

// Kind says what a task runs.
type Kind string

// The task kinds.
const (
	KindShell   Kind = "shell"   // Run: a script for /bin/sh -c
	KindCommand Kind = "command" // Command: an argv, no shell
	KindNoop    Kind = "noop"    // does nothing and succeeds
)

// Task is one task of a pipeline with every setting resolved.
type Task struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Description says what the task does, for people reading the UI.
	Description string `json:"description,omitempty"`
	// Run is the shell script of a KindShell task.
	Run string `json:"run,omitempty"`
	// Command is the argv of a KindCommand task.
	Command []string `json:"command,omitempty"`
	// DependsOn lists upstream task ids, sorted.
	DependsOn []string `json:"depends_on,omitempty"`
	// Env is added to the task's environment.
	Env map[string]string `json:"env,omitempty"`
	// Workdir is the working directory; relative paths are relative to the
	// directory of the pipeline file. Empty means that directory.
	Workdir string `json:"workdir,omitempty"`
	// Retries is how many times a failed attempt is retried; default 0.
	Retries int `json:"retries"`
	// RetryDelay is the wait before a retry; default 30s.
	RetryDelay Duration `json:"retry_delay"`
	// RetryBackoff is fixed (default) or exponential.
	RetryBackoff Backoff `json:"retry_backoff"`
	// MaxRetryDelay caps the exponential backoff; default 1h.
	MaxRetryDelay Duration `json:"max_retry_delay"`
	// Timeout kills the attempt after this long; 0 (the default) means none.
	Timeout Duration `json:"timeout,omitempty"`
	// Priority orders ready tasks: higher first; default 0.
	Priority int `json:"priority"`
}

// Duration is a time.Duration that reads and writes as text such as "30s",
// "1h30m" or "2d".
type Duration time.Duration
