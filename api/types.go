package api

import (
	"encoding/json"
	"time"

	"github.com/sluice-dev/sluice/pipeline"
)

// The wire types of the API: what its requests and responses carry, as
// JSON with snake_case names. Times are RFC 3339 in UTC; a null time means
// "not yet" or "never". The Go client (package client) reuses them, and the
// OpenAPI document is generated from them: a field without omitempty is
// always present (required), a pointer field may be null.

// Pipeline is a pipeline as listed: its schedule, live version, last
// parse error, params and most recent runs.
type Pipeline struct {
	ID          string `json:"id"`
	Description string `json:"description" doc:"from the live version; empty when it has none"`
	Schedule    string `json:"schedule" doc:"cron expression or @every; empty for a pipeline that only runs when triggered"`
	// Events are what else than the schedule starts runs.
	Events    []string `json:"events" doc:"what else than the schedule starts runs: assets, webhook, files; empty when none"`
	Timezone  string   `json:"timezone" doc:"IANA zone the schedule is read in"`
	Paused    bool     `json:"paused" doc:"a paused pipeline gets no scheduled runs; it can still be triggered"`
	File      string   `json:"file" doc:"the file on the server the pipeline comes from; empty when it was uploaded"`
	Version   string   `json:"version" doc:"hash of the live version; empty when no valid version was ever loaded"`
	VersionID int64    `json:"version_id" doc:"id of the live version; 0 when there is none"`
	// Missing reports that the pipeline's file left the pipelines folder:
	// it gets no new runs, and keeps its history until it is deleted.
	Missing bool `json:"missing" doc:"its file left the pipelines folder: no new runs; its history stays until it is deleted"`
	// LoadedAt is when the live version was last loaded or uploaded.
	LoadedAt time.Time `json:"loaded_at"`
	// NextRun is the logical date of the next scheduled run, as the
	// scheduler plans it from the last one; a time not after now is a run
	// due now. Null for a paused or missing pipeline or one without a
	// schedule.
	NextRun *time.Time `json:"next_run" doc:"logical date of the next scheduled run, as the scheduler plans it from the last one (a past time: due now); null when paused, missing or without a schedule"`
	// ParseError is the last error of the pipeline's file, null when it
	// parsed; the live version, if any, stays live meanwhile.
	ParseError   *string          `json:"parse_error" doc:"the last error of the pipeline's file; null when it parsed"`
	ParseErrorAt *time.Time       `json:"parse_error_at"`
	Params       map[string]Param `json:"params" doc:"typed inputs of a run, by name"`
	// RecentRuns are the last 10 runs, newest first.
	RecentRuns []RunSummary `json:"recent_runs" doc:"the last 10 runs, newest first"`
	// AssetWarnings are what the pipelines folder found wrong with the
	// pipeline's asset links to others: an asset nothing produces, a
	// cycle. Warnings, not errors: the pipeline runs as it is.
	AssetWarnings []string `json:"asset_warnings" doc:"FILE:LINE:COL: warning: … about the pipeline's asset links (an asset nothing produces, a cycle through assets); empty when none"`
	// Tags are the live version's tags:, sorted.
	Tags []string `json:"tags" doc:"the live version's tags, sorted; filter the list with ?tag="`
}

// PipelineDetail is one pipeline with the tasks and source of its live
// version.
type PipelineDetail struct {
	Pipeline
	// Tasks are the live version's tasks in dependency order, with every
	// setting resolved (the normalized spec).
	Tasks  []*pipeline.Task `json:"tasks" doc:"the live version's tasks in dependency order, every setting resolved"`
	Source string           `json:"source" doc:"the live version's file as written"`
	// Groups are the live version's task groups by name; each task
	// names its own in Tasks[].group.
	Groups map[string]*pipeline.Group `json:"groups" doc:"the live version's task groups by name, with their descriptions; a task names its group in tasks[].group"`
	// FileTriggers are the live version's files triggers and how their
	// watch goes.
	FileTriggers []FileTrigger `json:"file_triggers" doc:"the live version's files triggers and how their watch goes"`
}

// FileTrigger is one files trigger of a pipeline (triggers: [{files: …}]).
type FileTrigger struct {
	Source  string `json:"source" doc:"files, or files/<name> for a named trigger"`
	Path    string `json:"path" doc:"the folder watched"`
	Pattern string `json:"pattern" doc:"the file names that run"`
	// WatchingSince is when the trigger first watched its folder (and took
	// its backlog); null while it never could.
	WatchingSince *time.Time `json:"watching_since" doc:"when the trigger first watched its folder and took its backlog; null while it never could"`
	// Problem says what keeps it from watching (a missing folder, say);
	// empty when nothing.
	Problem      string     `json:"problem" doc:"what keeps it from watching, e.g. a missing folder; empty when nothing"`
	ProblemSince *time.Time `json:"problem_since" doc:"when the problem was first seen; null when there is none"`
}

// Param is one typed input of a run.
type Param struct {
	Type        string   `json:"type" enum:"string,int,float,bool,enum,list,object,json"`
	Default     any      `json:"default" doc:"the value used when a trigger gives none; null when there is no default"`
	Required    bool     `json:"required"`
	Values      []string `json:"values,omitempty" doc:"the allowed values of an enum param"`
	Items       string   `json:"items,omitempty" enum:"string,int,float" doc:"the type of a list param's items (string when absent)"`
	Description string   `json:"description"`
}

// RunSummary is a run in a pipeline's recent runs.
type RunSummary struct {
	ID          int64     `json:"id"`
	State       string    `json:"state" enum:"queued,running,success,failed,cancelled"`
	LogicalDate time.Time `json:"logical_date"`
	Kind        string    `json:"kind" enum:"scheduled,manual,backfill,webhook,asset,files"`
}

// UploadResult is what an upload did.
type UploadResult struct {
	Pipeline  string `json:"pipeline" doc:"the id of the uploaded pipeline"`
	Version   string `json:"version" doc:"hash of the uploaded version"`
	VersionID int64  `json:"version_id"`
	Created   bool   `json:"created" doc:"the version is new"`
	Changed   bool   `json:"changed" doc:"the live version changed"`
}

// Version is one version of a pipeline, without its source.
type Version struct {
	ID        int64     `json:"id"`
	Hash      string    `json:"hash"`
	File      string    `json:"file" doc:"the file it was loaded from; empty when uploaded"`
	CreatedAt time.Time `json:"created_at"`
	Live      bool      `json:"live" doc:"this is the version new runs use"`
}

// VersionDetail is one version with its source and normalized spec.
type VersionDetail struct {
	Version
	Pipeline string `json:"pipeline"`
	Source   string `json:"source" doc:"the file as written"`
	// Spec is the normalized pipeline, every setting resolved, as a JSON
	// object.
	Spec json.RawMessage `json:"spec" doc:"the normalized pipeline (a JSON object), every setting resolved"`
}

// Diff is the difference between two versions of a pipeline.
type Diff struct {
	From Version `json:"from"`
	To   Version `json:"to"`
	// Diff is a unified diff of the two sources; empty when they are equal.
	Diff string `json:"diff" doc:"unified diff of the two sources; empty when equal"`
}

// TriggerRequest starts a run by hand.
type TriggerRequest struct {
	// Params are the run's params by name; strings are converted by the
	// param's type ("3" for an int), as on the command line.
	Params map[string]any `json:"params,omitempty" doc:"values by param name; strings are converted by the param's type"`
}

// AssetEventRequest records an event of an asset from outside.
type AssetEventRequest struct {
	Extra map[string]string `json:"extra,omitempty" doc:"key=values that come with the event, at most 64"`
	// Key makes the event once (as the Idempotency-Key header does).
	Key string `json:"key,omitempty" doc:"makes the event once: the same key again returns the first event (200, repeat) and starts nothing; the Idempotency-Key header does the same"`
}

// AssetEvent is one update of an asset.
type AssetEvent struct {
	ID    int64  `json:"id"`
	Asset string `json:"asset"`
	// Pipeline, RunID and Task name the task that produced the event;
	// empty for an event from outside.
	Pipeline  string            `json:"pipeline" doc:"the producing pipeline; empty for an event sent through the API"`
	RunID     *int64            `json:"run_id"`
	Task      string            `json:"task"`
	Extra     map[string]string `json:"extra"`
	CreatedAt time.Time         `json:"created_at"`
}

// AssetEventResult is an event recorded and the runs it started.
type AssetEventResult struct {
	Event AssetEvent `json:"event"`
	Runs  []Run      `json:"runs" doc:"runs of the pipelines scheduled on assets that this event completed"`
	// Repeat is set when the key was used before: Event is the first.
	Repeat bool `json:"repeat" doc:"the key was sent before: event is the first one, and nothing started"`
}

// Run is one execution of a pipeline version.
type Run struct {
	ID          int64           `json:"id"`
	Pipeline    string          `json:"pipeline"`
	VersionID   int64           `json:"version_id"`
	Key         string          `json:"key" doc:"unique per pipeline, e.g. scheduled__2026-01-02T03:00:00Z"`
	Kind        string          `json:"kind" enum:"scheduled,manual,backfill,webhook,asset,files"`
	LogicalDate time.Time       `json:"logical_date"`
	Params      json.RawMessage `json:"params" doc:"the run's bound params, a JSON object"`
	State       string          `json:"state" enum:"queued,running,success,failed,cancelled"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	// DurationSeconds runs from start to finish, or to now while running;
	// null before the run starts.
	DurationSeconds *float64 `json:"duration_seconds" doc:"from start to finish, or to now while running; null before it starts"`
	// ParentRunID and ParentTask name the pipeline: task whose run
	// started this one; null and empty for other runs.
	ParentRunID *int64 `json:"parent_run_id" doc:"the run whose pipeline: task started this run; null for other runs"`
	ParentTask  string `json:"parent_task" doc:"that task's id; empty for other runs"`
}

// RunList is one page of runs, newest first.
type RunList struct {
	Runs []Run `json:"runs"`
	// NextBefore is the before= value of the next page; null on the last.
	NextBefore *int64 `json:"next_before" doc:"pass as before= for the next page; null on the last page"`
}

// RunDetail is a run with its task instances.
type RunDetail struct {
	Run
	// Tasks are in the dependency order of the run's pipeline version.
	Tasks []TaskInstance `json:"tasks" doc:"in the dependency order of the run's version"`
	// Children are the runs this run's pipeline: tasks started, oldest
	// first.
	Children []Run `json:"children" doc:"runs started by this run's pipeline: tasks, oldest first"`
	// Triggers are the trigger events that asked for the run.
	Triggers []RunTrigger `json:"triggers" doc:"the events that asked for the run: a webhook delivery, the asset events an asset run consumed, or a file's arrival; empty for other runs"`
	// TriggerEvents are the asset events an asset run consumed, oldest
	// first per asset; empty for every other run.
	TriggerEvents []AssetEvent `json:"trigger_events" doc:"the asset events that started an asset run (what its tasks see as trigger.events); empty for other runs"`
}

// RunTrigger is an event that asked for a run.
type RunTrigger struct {
	Source     string    `json:"source" doc:"webhook, webhook/<name>, assets, files or files/<name>"`
	Key        string    `json:"key" doc:"a webhook delivery's dedup key (unkeyed__… when it sent none); for assets, asset:event pairs; for files, path|size|mtime in ns (sha256:… when longer than 200 bytes)"`
	ReceivedAt time.Time `json:"received_at"`
	// Assets are, for an asset run, each asset with the event consumed.
	Assets []ConsumedAsset `json:"assets,omitempty" doc:"for source assets: each asset with the newest event of it the run consumed"`
	// File is, for a files run, the file whose arrival started it.
	File *ArrivedFile `json:"file,omitempty" doc:"for a files trigger: the file whose arrival started the run; absent when its key is hashed"`
}

// ArrivedFile is the version of a file whose arrival started a run.
type ArrivedFile struct {
	Path  string    `json:"path" doc:"absolute"`
	Size  int64     `json:"size" doc:"in bytes"`
	Mtime time.Time `json:"mtime" doc:"its modification time, to the nanosecond the file system keeps"`
}

// ConsumedAsset is an asset and the event of it an asset run consumed.
type ConsumedAsset struct {
	Asset   string      `json:"asset"`
	EventID int64       `json:"event_id"`
	Event   *AssetEvent `json:"event" doc:"the event, with its producer; null once retention pruned it"`
}

// TaskInstance is one task inside one run.
type TaskInstance struct {
	Task  string `json:"task"`
	State string `json:"state" enum:"pending,queued,up_for_retry,up_for_reschedule,running,success,failed,upstream_failed,skipped,cancelled"`
	// Attempts counts the attempts started; Failures those that failed.
	Attempts        int        `json:"attempts"`
	Failures        int        `json:"failures"`
	ReadyAt         *time.Time `json:"ready_at" doc:"when a queued or up_for_retry task may be claimed"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
	// Blocked says why a ready task cannot start (no worker with its
	// labels, a pool that does not exist or is too small); empty when it
	// can.
	Blocked string `json:"blocked" doc:"why a ready task cannot start; empty when nothing stops it"`
	// ItemsTotal counts the items of a mapped task (for_each) once it has
	// expanded; 0 for other tasks.
	ItemsTotal int `json:"items_total" doc:"the items of a mapped task once it expanded; 0 otherwise"`
	// Items are a mapped task's items in order; absent for other tasks.
	Items []TaskItem `json:"items,omitempty" doc:"a mapped task's items, in order; absent for other tasks"`
	// AllowFailure: the task's failure does not fail the run.
	AllowFailure bool `json:"allow_failure" doc:"the task allows failure (allow_failure: true): its failure does not fail the run"`
	// Note says why the task ended with no attempt: the when: condition
	// that skipped it.
	Note string `json:"note,omitempty" doc:"why the task ended with no attempt: the when: condition that skipped it"`
	// Group is the task's group in the run's version; empty for a task
	// in no group.
	Group string `json:"group,omitempty" doc:"the task's group (group: in the pipeline file) in the run's version; absent for a task in no group"`
}

// TaskItem is one item of a mapped task (for_each): an instance of the
// task of its own, with its own attempts and log.
type TaskItem struct {
	MapIndex        int        `json:"map_index" doc:"the item's index, from 0: pass it as ?item= for its detail and log"`
	Item            string     `json:"item" doc:"the item, as the task sees it in $SLUICE_ITEM"`
	State           string     `json:"state" enum:"pending,queued,up_for_retry,up_for_reschedule,running,success,failed,upstream_failed,skipped,cancelled"`
	Attempts        int        `json:"attempts"`
	Blocked         string     `json:"blocked" doc:"why the ready item cannot start; empty when nothing stops it"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
}

// TaskDetail is a task instance with its attempts and outputs.
type TaskDetail struct {
	Run  int64  `json:"run"`
	Task string `json:"task"`
	// MapIndex and Item name the item of a mapped task this detail is
	// of (asked with ?item=); null for the task itself.
	MapIndex        *int       `json:"map_index" doc:"the item shown, when asked with ?item=; null for the task itself"`
	Item            *string    `json:"item" doc:"that item's value; null for the task itself"`
	State           string     `json:"state" enum:"pending,queued,up_for_retry,up_for_reschedule,running,success,failed,upstream_failed,skipped,cancelled"`
	Failures        int        `json:"failures" doc:"attempts that failed, counting against the retries"`
	ReadyAt         *time.Time `json:"ready_at"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
	// Attempts are every attempt, first to last.
	Attempts []Attempt `json:"attempts" doc:"every attempt, first to last"`
	// Outputs are the key=value pairs the task wrote to $SLUICE_OUTPUT in
	// its successful attempt. A mapped task's are JSON arrays with one
	// element per item.
	Outputs map[string]string `json:"outputs" doc:"what the task wrote to $SLUICE_OUTPUT in its successful attempt; for a mapped task, JSON arrays with one element per item"`
	Blocked string            `json:"blocked" doc:"why a ready task cannot start; empty when nothing stops it"`
	// ItemsTotal and Items, for a mapped task (without ?item=).
	ItemsTotal int        `json:"items_total" doc:"the items of a mapped task once it expanded; 0 otherwise"`
	Items      []TaskItem `json:"items,omitempty" doc:"a mapped task's items, in order; absent for other tasks and for one item"`
}

// Attempt is one try of a task instance.
type Attempt struct {
	Number          int        `json:"number"`
	State           string     `json:"state" enum:"running,success,failed,timed_out,lost,handed_back,cancelled,skipped,rescheduled"`
	Worker          string     `json:"worker"`
	Image           string     `json:"image,omitempty" doc:"a container task's image, as the worker ran it"`
	ContainerID     string     `json:"container_id,omitempty" doc:"a container task's container once created, or pod/NAMESPACE/NAME for a Kubernetes pod task"`
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
	ExitCode        *int       `json:"exit_code"`
	Error           string     `json:"error" doc:"why the attempt did not succeed"`
}

// RetryResult says how many failed tasks a retry reset.
type RetryResult struct {
	Retried int `json:"retried"`
}

// Selection chooses task instances to clear or mark, from tasks of one
// run, as Airflow's Clear and Mark dialogs do.
type Selection struct {
	Tasks      []string `json:"tasks" doc:"the tasks chosen, at least one, each a task of the run"`
	Downstream bool     `json:"downstream" doc:"add every task downstream of them"`
	Upstream   bool     `json:"upstream" doc:"add every task upstream of them"`
	Past       bool     `json:"past" doc:"the same tasks in the pipeline's runs with an earlier logical date"`
	Future     bool     `json:"future" doc:"the same tasks in the pipeline's runs with a later logical date"`
	DryRun     bool     `json:"dry_run" doc:"list what would change, change nothing"`
}

// ClearRequest clears task instances with options.
type ClearRequest struct {
	Selection
	OnlyFailed bool `json:"only_failed" doc:"only failed and upstream_failed instances"`
}

// MarkSetRequest marks task instances success or failed with options.
type MarkSetRequest struct {
	Selection
	State string `json:"state" enum:"success,failed"`
}

// SelectionResult lists the instances a clear or a mark changed (or, on
// a dry run, would change), with their state before.
type SelectionResult struct {
	DryRun    bool               `json:"dry_run"`
	Count     int                `json:"count"`
	Instances []SelectedInstance `json:"instances" doc:"run by run, oldest logical date first; within a run in dependency order (upstream first, ties by task id), as the run page lists tasks"`
}

// SelectedInstance is one task instance of a SelectionResult.
type SelectedInstance struct {
	Run         int64     `json:"run"`
	LogicalDate time.Time `json:"logical_date"`
	Task        string    `json:"task"`
	State       string    `json:"state" doc:"its state before the change"`
}

// MarkRequest sets a task's final state by hand.
type MarkRequest struct {
	State string `json:"state" enum:"success,failed"`
}

// LogLine is one line of a task attempt's log, as sent in the data of a
// server-sent event.
type LogLine struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream" enum:"stdout,stderr,sluice"`
	Line   string    `json:"line"`
}

// LogEnd is the data of the final "end" event of a followed log.
type LogEnd struct {
	// Attempt is the attempt number; 0 when the task finished without one
	// (skipped, upstream_failed or cancelled before it ran).
	Attempt int `json:"attempt"`
	// State is the attempt's final state, or the task's without an attempt.
	State string `json:"state"`
}

// LoginRequest logs in with a user name and password.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// LoginResult is a new session. The session cookie comes with it.
type LoginResult struct {
	User string `json:"user"`
	Role string `json:"role" enum:"viewer,operator,admin"`
	// CSRFToken must be sent as X-CSRF-Token with every POST, PATCH and
	// DELETE of the session.
	CSRFToken string `json:"csrf_token" doc:"send as X-CSRF-Token with every POST, PATCH and DELETE of this session"`
}

// Me is who made a request.
type Me struct {
	Name string `json:"name" doc:"the user's name; for a system token, the token's"`
	Role string `json:"role" enum:"viewer,operator,admin" doc:"what the request may do: a token's role capped by its user's"`
	Via  string `json:"via" enum:"session,token,none"`
	// Token is the API token's name when Via is "token".
	Token string `json:"token,omitempty" doc:"the API token's name, for a request with a token"`
	// CSRFToken is the session's token; absent for API tokens.
	CSRFToken string `json:"csrf_token,omitempty" doc:"the session's CSRF token; absent for API tokens"`
}

// User is a person who logs in.
type User struct {
	Name      string    `json:"name"`
	Role      string    `json:"role" enum:"viewer,operator,admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// UserCreate adds a user.
type UserCreate struct {
	Name     string `json:"name"`
	Password string `json:"password" doc:"at least 8 characters"`
	Role     string `json:"role" enum:"viewer,operator,admin"`
}

// UserUpdate changes the fields of a user that are given. Changing the
// password or disabling the user ends their sessions.
type UserUpdate struct {
	Role     *string `json:"role,omitempty" enum:"viewer,operator,admin"`
	Password *string `json:"password,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

// Token is an API token, without its secret.
type Token struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role string `json:"role" enum:"viewer,operator,admin" doc:"the most the token may do; its user's role caps it"`
	// User is the user the token acts for; empty for a system token and
	// for a token whose user is gone (which is refused).
	User string `json:"user,omitempty" doc:"the user the token acts for: their role caps the token's, and it stops working when they are disabled or deleted"`
	// System marks a token of the installation itself, such as the local
	// CLI's, which belongs to no user.
	System     bool       `json:"system,omitempty" doc:"a token of the installation itself (the local CLI's and those made with it), which belongs to no user"`
	Usable     bool       `json:"usable" doc:"false when the token is refused: its user is disabled or gone"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at" doc:"null for a token that does not expire"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// TokenCreate makes an API token.
type TokenCreate struct {
	Name string `json:"name,omitempty" doc:"what the token is for; default names its creator and role"`
	Role string `json:"role" enum:"viewer,operator,admin"`
	// User is the user the token acts for; empty for the one who makes it.
	User string `json:"user,omitempty" doc:"the user the token acts for, such as a service account's; default the user making it. The token's role may not exceed theirs"`
	// ExpiresIn is a duration such as "720h" or "30d"; empty for a token
	// that does not expire.
	ExpiresIn string `json:"expires_in,omitempty" doc:"a duration such as 720h or 30d; absent for a token that does not expire"`
}

// NewToken is a new API token with its secret, which is shown only once.
type NewToken struct {
	Token
	// Token is the secret to send as "Authorization: Bearer <token>".
	Secret string `json:"token" doc:"the secret, shown only this once: send it as 'Authorization: Bearer <token>'"`
}

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong: a machine-readable code and a message for
// people.
type ErrorBody struct {
	Code    string `json:"code" enum:"bad_request,unauthorized,forbidden,not_found,method_not_allowed,conflict,too_large,invalid,too_many_requests,internal,unavailable"`
	Message string `json:"message"`
	// Details carries structured extras: the positioned errors of a
	// pipeline file ([]FileError), or the problem of each param of a
	// trigger (an object from param name to message).
	Details any `json:"details,omitempty" doc:"for a pipeline file, a list of FileError; for trigger params, an object from param name to its problem"`
}

// FileError is one positioned error of a pipeline file.
type FileError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Pool is a named number of slots that bounds how many tasks naming it
// run at once, across every worker.
type Pool struct {
	Name        string `json:"name"`
	Slots       int    `json:"slots" doc:"how many slots the pool has; 0 holds every task of the pool back"`
	Description string `json:"description"`
	Used        int    `json:"used" doc:"slots taken by running tasks"`
	Queued      int    `json:"queued" doc:"tasks ready to run and waiting for the pool"`
}

// PoolSet creates a pool or changes its slots and description.
type PoolSet struct {
	// Slots is required: 0 or more.
	Slots       *int   `json:"slots" doc:"required: 0 or more"`
	Description string `json:"description,omitempty"`
}

// Secret is a secret's name and times. Its value is never shown.
type Secret struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SecretSet sets a secret's value. The server encrypts it; no response
// ever contains it.
type SecretSet struct {
	Value string `json:"value" doc:"the secret's value, at most 64 KiB; encrypted at rest and never returned"`
}

// Variable is a named value that expressions read as ${{ vars.<name> }}.
type Variable struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	UpdatedAt time.Time `json:"updated_at"`
}

// VariableSet sets a variable's value.
type VariableSet struct {
	// Value is required; it may be empty.
	Value *string `json:"value" doc:"required; may be empty; at most 64 KiB"`
}

// BackfillRequest creates a backfill: one run per logical date of the
// pipeline's schedule between From and To.
type BackfillRequest struct {
	// From and To are dates (YYYY-MM-DD), times of day without a zone
	// (2026-01-31T06:00), both read in the pipeline's timezone, or RFC
	// 3339 times. A date for From is the start of its day; for To, the
	// whole day.
	From string `json:"from" doc:"YYYY-MM-DD (the start of that day in the pipeline's timezone), YYYY-MM-DDTHH:MM there, or an RFC 3339 time"`
	To   string `json:"to" doc:"YYYY-MM-DD (that whole day, in the pipeline's timezone), YYYY-MM-DDTHH:MM there, or an RFC 3339 time; included"`
	// Rerun says what happens to a date that already has a run: none
	// (the default) leaves it alone, failed runs the failed tasks of a
	// failed run again, all every task of a finished run.
	Rerun string `json:"rerun,omitempty" enum:"none,failed,all" doc:"a date that already has a run: none (default) leaves it alone, failed reruns a failed run's failed tasks, all reruns every task of a finished run"`
	// Params are the runs' params, checked against the pipeline's param
	// types as a trigger's; absent params take their defaults.
	Params map[string]any `json:"params,omitempty" doc:"the runs' params by name, checked like a trigger's; absent ones take their defaults"`
	// DryRun lists the dates without creating anything.
	DryRun bool `json:"dry_run,omitempty" doc:"list the logical dates and create nothing (answers 200 with BackfillDates)"`
}

// BackfillDates are the logical dates a backfill would create runs for.
type BackfillDates struct {
	Pipeline string `json:"pipeline"`
	Timezone string `json:"timezone" doc:"the pipeline's timezone, which the schedule is read in"`
	// Dates are in UTC, oldest first.
	Dates []time.Time `json:"dates" doc:"oldest first; a date that already has a run is left alone unless rerun says otherwise"`
}

// Backfill is a range of logical dates run after the fact, with the
// progress of its runs.
type Backfill struct {
	ID       int64     `json:"id"`
	Pipeline string    `json:"pipeline"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Rerun    string    `json:"rerun" enum:"none,failed,all"`
	// State is running until every run finished, then done; cancelled
	// once cancelled.
	State string `json:"state" enum:"running,done,cancelled"`
	// Total counts the backfill's runs; Runs counts them by state.
	Total int            `json:"total" doc:"the backfill's runs"`
	Runs  map[string]int `json:"runs" doc:"the backfill's runs by state: queued, running, success, failed, cancelled"`
	// Skipped counts the dates left alone because they had a run; it is
	// known only in the response that created the backfill.
	Skipped   *int      `json:"skipped" doc:"dates left alone because they already had a run; null except in the response that created the backfill"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Worker is a worker process as it last announced itself.
type Worker struct {
	ID          string    `json:"id"`
	Hostname    string    `json:"hostname"`
	PID         int       `json:"pid"`
	Labels      []string  `json:"labels" doc:"a task that requires labels runs only on a worker with all of them"`
	Concurrency int       `json:"concurrency" doc:"how many tasks it runs at once"`
	Version     string    `json:"version" doc:"the sluice version it runs"`
	Draining    bool      `json:"draining" doc:"it is stopping: it claims no new tasks"`
	Problems    []string  `json:"problems" doc:"what its environment check found at start, such as a missing interpreter"`
	StartedAt   time.Time `json:"started_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	// Alive reports that it was seen within the last minute
	// (scheduler.WorkerTTL).
	Alive bool `json:"alive" doc:"seen within the last minute"`
}

// CleanupRequest asks to prune finished runs past their retention now,
// or with dry_run to see what would go.
type CleanupRequest struct {
	DryRun bool `json:"dry_run,omitempty" doc:"count what would go and delete nothing"`
	// Retention is a duration such as 30d or 12h; "" uses the schedulers'.
	Retention string `json:"retention,omitempty" doc:"how long the runs of pipelines that set no retention: are kept, e.g. 30d or 12h (0 keeps them); default the schedulers' --retention, else 30d"`
	Pipeline  string `json:"pipeline,omitempty" doc:"clean up only this pipeline"`
}

// Cleanup is what a cleanup deleted, or a dry run would.
type Cleanup struct {
	DryRun                  bool              `json:"dry_run"`
	DefaultRetentionSeconds float64           `json:"default_retention_seconds" doc:"the retention of pipelines that set none; 0 keeps their runs"`
	Pipelines               []CleanupPipeline `json:"pipelines" doc:"each pipeline with runs past its retention"`
	// Rows counts rows by kind: runs, instances, attempts, log_chunks,
	// outputs, callbacks, sessions.
	Rows     map[string]int64 `json:"rows" doc:"rows by kind: runs, instances, attempts, log_chunks, outputs, callbacks, sessions"`
	LogBytes int64            `json:"log_bytes" doc:"the size of the task logs that go"`
	More     bool             `json:"more" doc:"runs past their retention remain: ask again to go on"`
}

// CleanupPipeline is one pipeline's part of a cleanup.
type CleanupPipeline struct {
	ID               string     `json:"id"`
	RetentionSeconds float64    `json:"retention_seconds"`
	Cutoff           time.Time  `json:"cutoff" doc:"finished runs older than this go"`
	Runs             int64      `json:"runs"`
	Oldest           *time.Time `json:"oldest" doc:"when the oldest of them finished"`
}

// Asset is an asset with its newest event, the tasks that produce it and
// the pipelines scheduled on it.
type Asset struct {
	Name      string          `json:"name"`
	Events    int64           `json:"events" doc:"how many of its events are stored; retention prunes old ones"`
	LastEvent *AssetEvent     `json:"last_event" doc:"its newest event; null without events"`
	Producers []AssetProducer `json:"producers" doc:"the tasks of live pipeline versions that list it under produces:"`
	Consumers []string        `json:"consumers" doc:"the pipelines scheduled on it"`
}

// AssetProducer is a task that produces an asset.
type AssetProducer struct {
	Pipeline string `json:"pipeline"`
	Task     string `json:"task"`
}

// AssetList is a page of assets, ordered by name.
type AssetList struct {
	Assets    []Asset `json:"assets"`
	NextAfter string  `json:"next_after,omitempty" doc:"pass as after= for the next page; absent on the last page"`
}

// AssetDetail is an asset with where each consumer stands and its recent
// events.
type AssetDetail struct {
	Asset
	ConsumerStatus []AssetConsumer `json:"consumer_status" doc:"per pipeline scheduled on the asset, whether it has an event the pipeline has not consumed"`
	RecentEvents   []AssetEvent    `json:"recent_events" doc:"the newest events, newest first, at most 20"`
}

// AssetConsumer is where a pipeline scheduled on an asset stands with it.
type AssetConsumer struct {
	Pipeline       string `json:"pipeline"`
	LastConsumedID int64  `json:"last_consumed_id" doc:"the newest event of the asset the pipeline's asset-triggered runs consumed, or that was newest when it began to wait; 0 for none"`
	Fresh          bool   `json:"fresh" doc:"the asset has an event newer than last_consumed_id: the pipeline waits for its other assets, or its run is being made"`
}
