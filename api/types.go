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
	Timezone    string `json:"timezone" doc:"IANA zone the schedule is read in"`
	Paused      bool   `json:"paused" doc:"a paused pipeline gets no scheduled runs; it can still be triggered"`
	File        string `json:"file" doc:"the file on the server the pipeline comes from; empty when it was uploaded"`
	Version     string `json:"version" doc:"hash of the live version; empty when no valid version was ever loaded"`
	VersionID   int64  `json:"version_id" doc:"id of the live version; 0 when there is none"`
	// LoadedAt is when the live version was last loaded or uploaded.
	LoadedAt time.Time `json:"loaded_at"`
	// NextRun is when the schedule next fires; null for a paused pipeline
	// or one without a schedule.
	NextRun *time.Time `json:"next_run" doc:"when the schedule next fires; null when paused or without a schedule"`
	// ParseError is the last error of the pipeline's file, null when it
	// parsed; the live version, if any, stays live meanwhile.
	ParseError   *string          `json:"parse_error" doc:"the last error of the pipeline's file; null when it parsed"`
	ParseErrorAt *time.Time       `json:"parse_error_at"`
	Params       map[string]Param `json:"params" doc:"typed inputs of a run, by name"`
	// RecentRuns are the last 10 runs, newest first.
	RecentRuns []RunSummary `json:"recent_runs" doc:"the last 10 runs, newest first"`
}

// PipelineDetail is one pipeline with the tasks and source of its live
// version.
type PipelineDetail struct {
	Pipeline
	// Tasks are the live version's tasks in dependency order, with every
	// setting resolved (the normalized spec).
	Tasks  []*pipeline.Task `json:"tasks" doc:"the live version's tasks in dependency order, every setting resolved"`
	Source string           `json:"source" doc:"the live version's file as written"`
}

// Param is one typed input of a run.
type Param struct {
	Type        string   `json:"type" enum:"string,int,float,bool,enum"`
	Default     any      `json:"default" doc:"the value used when a trigger gives none; null when there is no default"`
	Required    bool     `json:"required"`
	Values      []string `json:"values,omitempty" doc:"the allowed values of an enum param"`
	Description string   `json:"description"`
}

// RunSummary is a run in a pipeline's recent runs.
type RunSummary struct {
	ID          int64     `json:"id"`
	State       string    `json:"state" enum:"queued,running,success,failed,cancelled"`
	LogicalDate time.Time `json:"logical_date"`
	Kind        string    `json:"kind" enum:"scheduled,manual,backfill"`
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

// Run is one execution of a pipeline version.
type Run struct {
	ID          int64           `json:"id"`
	Pipeline    string          `json:"pipeline"`
	VersionID   int64           `json:"version_id"`
	Key         string          `json:"key" doc:"unique per pipeline, e.g. scheduled__2026-01-02T03:00:00Z"`
	Kind        string          `json:"kind" enum:"scheduled,manual,backfill"`
	LogicalDate time.Time       `json:"logical_date"`
	Params      json.RawMessage `json:"params" doc:"the run's bound params, a JSON object"`
	State       string          `json:"state" enum:"queued,running,success,failed,cancelled"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	// DurationSeconds runs from start to finish, or to now while running;
	// null before the run starts.
	DurationSeconds *float64 `json:"duration_seconds" doc:"from start to finish, or to now while running; null before it starts"`
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
}

// TaskInstance is one task inside one run.
type TaskInstance struct {
	Task  string `json:"task"`
	State string `json:"state" enum:"pending,queued,up_for_retry,running,success,failed,upstream_failed,skipped,cancelled"`
	// Attempts counts the attempts started; Failures those that failed.
	Attempts        int        `json:"attempts"`
	Failures        int        `json:"failures"`
	ReadyAt         *time.Time `json:"ready_at" doc:"when a queued or up_for_retry task may be claimed"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
}

// TaskDetail is a task instance with its attempts and outputs.
type TaskDetail struct {
	Run             int64      `json:"run"`
	Task            string     `json:"task"`
	State           string     `json:"state" enum:"pending,queued,up_for_retry,running,success,failed,upstream_failed,skipped,cancelled"`
	Failures        int        `json:"failures" doc:"attempts that failed, counting against the retries"`
	ReadyAt         *time.Time `json:"ready_at"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
	// Attempts are every attempt, first to last.
	Attempts []Attempt `json:"attempts" doc:"every attempt, first to last"`
	// Outputs are the key=value pairs the task wrote to $SLUICE_OUTPUT in
	// its successful attempt.
	Outputs map[string]string `json:"outputs" doc:"what the task wrote to $SLUICE_OUTPUT in its successful attempt"`
}

// Attempt is one try of a task instance.
type Attempt struct {
	Number          int        `json:"number"`
	State           string     `json:"state" enum:"running,success,failed,timed_out,lost,handed_back,cancelled"`
	Worker          string     `json:"worker"`
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
	Name string `json:"name"`
	Role string `json:"role" enum:"viewer,operator,admin"`
	Via  string `json:"via" enum:"session,token,none"`
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
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role" enum:"viewer,operator,admin"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at" doc:"null for a token that does not expire"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// TokenCreate makes an API token.
type TokenCreate struct {
	Name string `json:"name,omitempty" doc:"what the token is for; default names its creator and role"`
	Role string `json:"role" enum:"viewer,operator,admin"`
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
