package pipeline

import (
	"time"

	"github.com/sluice-dev/sluice"
)

// Pipeline is one parsed and validated pipeline file in its normalized form:
// defaults are merged into every task, durations are resolved, and every
// optional field holds its effective value. Two files that mean the same
// thing normalize to equal Pipelines and therefore to the same Hash.
type Pipeline struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	// Tags are words to filter the pipelines list by, sorted, without
	// repeats; nil for none.
	Tags []string `json:"tags,omitempty"`
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
	// MaxActiveTasks bounds the task instances of this pipeline that run
	// at once across all its runs; 0 (the default) means no bound.
	MaxActiveTasks int `json:"max_active_tasks,omitempty"`
	// Retention is how long the pipeline's finished runs are kept, with
	// their attempts, logs and outputs; 0 (the default) uses the server's
	// --retention.
	Retention Duration `json:"retention,omitempty"`
	// Params are the typed inputs of a run, keyed by name.
	Params map[string]*Param `json:"params,omitempty"`
	// OnSuccess and OnFailure run when a run of the pipeline ends so.
	OnSuccess *Action `json:"on_success,omitempty"`
	OnFailure *Action `json:"on_failure,omitempty"`
	// Assets, from schedule: {assets: […]}, schedule the pipeline on
	// assets: it runs when each has a new event. Sorted; none by default.
	Assets []string `json:"assets,omitempty"`
	// AssetCondition, from any: and all: under schedule: assets:, is when
	// the pipeline runs on its Assets; nil (the default, a plain list)
	// means when each of them has a new event.
	AssetCondition *sluice.AssetCondition `json:"asset_condition,omitempty"`
	// Triggers start runs on events (see Trigger); none by default.
	Triggers []*Trigger `json:"triggers,omitempty"`
	// Groups are the task groups the tasks name (Task.Group), keyed by
	// name; none by default. They are for display and bulk actions only.
	// (Before Tasks: the normalized form streams Tasks last.)
	Groups map[string]*Group `json:"groups,omitempty"`
	// Tasks are keyed by task id.
	Tasks map[string]*Task `json:"tasks"`

	// Warnings are what Parse found valid but likely not meant (see
	// Warning). They are not part of the version: Decode leaves them
	// empty.
	Warnings []Warning `json:"-"`
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
	// ParamList, ParamObject and ParamJSON are in params_structured.go.
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
	// Items is the type of a list param's items: string (the default),
	// int or float.
	Items ParamType `json:"items,omitempty"`
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
	// KindHTTP makes an HTTP request.
	KindHTTP Kind = "http"
	// KindSensor waits for a condition (wait_for:), poking now and then
	// without holding a worker slot in between.
	KindSensor Kind = "sensor"
	// KindPipeline runs another pipeline (pipeline:) and waits for it.
	KindPipeline Kind = "pipeline"
	// KindContainer (container.go) runs Run or Command in a container.
)

// Task is one task of a pipeline with every setting resolved.
type Task struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Description says what the task does, for people reading the UI.
	Description string `json:"description,omitempty"`
	// Group is the name of the task's group (see Group); empty (the
	// default) for a task in no group.
	Group string `json:"group,omitempty"`
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
	// Interpreter runs the task's script instead of /bin/sh: the script is
	// written to a file and the interpreter's argv gets its path, e.g.
	// [/opt/venvs/etl/bin/python, -u].
	Interpreter []string `json:"interpreter,omitempty"`
	// QueuedTimeout fails the task when it is ready but nothing can start
	// it (no worker with its labels, a pool too small) for this long;
	// default 1h.
	QueuedTimeout Duration `json:"queued_timeout"`

	// TriggerRule says when the task runs given its upstream tasks' final
	// states; default all_success.
	TriggerRule string `json:"trigger_rule"`
	// AllowFailure makes a failure of the task not fail its run. The
	// failure is shown as one; downstream trigger rules that wait for a
	// failure (one_failed, all_failed) see it as a failure, every other
	// rule as a success, so the run carries on past it (GitLab's
	// allow_failure, Argo's continueOn: failed).
	AllowFailure bool `json:"allow_failure,omitempty"`
	// When is a condition (expression); when false the task is skipped,
	// and the skip propagates by the trigger rules downstream.
	When string `json:"when,omitempty"`
	// ForEach makes one instance of the task per item of a list.
	ForEach *ForEach `json:"for_each,omitempty"`
	// MaxParallel bounds how many items of a mapped task run at once; 0
	// means no bound.
	MaxParallel int `json:"max_parallel,omitempty"`
	// Pool names the pool whose slots the task takes while it runs;
	// PoolSlots is how many (default 1).
	Pool      string `json:"pool,omitempty"`
	PoolSlots int    `json:"pool_slots"`
	// Requires lists worker labels, sorted: only a worker started with all
	// of them runs the task.
	Requires []string `json:"requires,omitempty"`
	// Secrets lists secrets given to the task as environment variables of
	// the same name, sorted.
	Secrets []string `json:"secrets,omitempty"`
	// Container is the container of a KindContainer task, whose Run or
	// Command (or neither: the image's command) runs in it.
	Container *Container `json:"container,omitempty"`
	// HTTP is the request of a KindHTTP task.
	HTTP *HTTP `json:"http,omitempty"`
	// WaitFor is the condition of a KindSensor task.
	WaitFor *WaitFor `json:"wait_for,omitempty"`
	// Pipeline is the pipeline a KindPipeline task runs, with Params (text
	// templates).
	Pipeline string            `json:"pipeline,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	// OnSuccess, OnFailure and OnRetry run after an attempt ends so: on
	// failure only when no retry is left, on retry when one is.
	OnSuccess *Action `json:"on_success,omitempty"`
	OnFailure *Action `json:"on_failure,omitempty"`
	OnRetry   *Action `json:"on_retry,omitempty"`
	// Produces lists the assets each success of the task updates; sorted.
	Produces []string `json:"produces,omitempty"`
}

// HTTP is an HTTP request. Its text fields may hold ${{ }} expressions.
type HTTP struct {
	// Method defaults to GET.
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Expect lists the statuses that mean success; empty means any 2xx.
	Expect []int `json:"expect,omitempty"`
	// Timeout bounds the request; default 30s.
	Timeout Duration `json:"timeout"`
}

// WaitFor is what a sensor waits for: exactly one of File (a path or glob
// that must match a file), URL (must answer 2xx) and Pipeline (a run of it
// for the same logical date must have succeeded).
type WaitFor struct {
	File     string `json:"file,omitempty"`
	URL      string `json:"url,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
	// PokeInterval is the time between checks; default 30s.
	PokeInterval Duration `json:"poke_interval"`
	// Timeout fails the sensor when the condition is not met this long
	// after its first check; default 24h.
	Timeout Duration `json:"timeout"`
}

// ForEach is the list a mapped task runs over: literal Items, or Expr, an
// expression whose value is a list or a JSON array text.
type ForEach struct {
	Items []string `json:"items,omitempty"`
	Expr  string   `json:"expr,omitempty"`
}

// Action is a callback: a shell script, an argv or an HTTP request.
type Action struct {
	Run     string   `json:"run,omitempty"`
	Command []string `json:"command,omitempty"`
	HTTP    *HTTP    `json:"http,omitempty"`
}

// Duration is a time.Duration that reads and writes as text such as "30s",
// "1h30m" or "2d".
type Duration time.Duration
