package api

import (
	"net/http"

	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// Route is one endpoint of the API. The table of routes is the single
// source of the mux's patterns, of the action each endpoint performs (and
// so, through auth's table of permissions, the role it needs), and of the
// OpenAPI document.
type Route struct {
	Method string
	// Path is a Go ServeMux path pattern, such as /api/v1/runs/{run}.
	Path    string
	Summary string
	// Tag groups the route in the OpenAPI document.
	Tag string
	// Action is what the route does, which decides the role it needs
	// (auth.Permissions); empty for a route anyone may call (logging in,
	// the OpenAPI document).
	Action auth.Action
	// Status is the status of a successful response.
	Status int
	// Body is the JSON request body's type (a zero value), or nil.
	Body any
	// Result is the JSON response's type (a zero value), or nil.
	Result any
	// Also lists other successful responses by status, each with its
	// JSON type: the 200 of a dry run beside a route's 201, say.
	Also map[int]any
	// Query lists the query parameters.
	Query []QueryParam
	// Kind is how the request or response deviates from plain JSON.
	Kind RouteKind
	// Doc is a longer description for the OpenAPI document.
	Doc string

	handle func(a *API, w http.ResponseWriter, r *http.Request) error
}

// RouteKind marks routes whose bodies are not plain JSON.
type RouteKind int

// The route kinds.
const (
	KindJSON RouteKind = iota
	// KindUpload takes a pipeline file (multipart or raw YAML).
	KindUpload
	// KindLogs answers text/plain, or text/event-stream when following.
	KindLogs
	// KindDocument answers the OpenAPI document itself.
	KindDocument
)

// QueryParam is one query parameter of a route.
type QueryParam struct {
	Name string
	// Type is "string", "integer" or "boolean".
	Type string
	// Repeated parameters may be given more than once.
	Repeated bool
	Doc      string
	Enum     []string
}

const (
	loginPath   = "/api/v1/login"
	openapiPath = "/api/v1/openapi.json"
)

// Routes returns the API's routes, in documentation order.
func Routes() []Route { return table() }

// table builds the route table. It is a function, not a variable, because
// the OpenAPI handler in it reads the table.
func table() []Route {
	return []Route{
		// Who you are.
		{Method: "POST", Path: loginPath, Tag: "auth", Summary: "Log in with a user name and password and start a session",
			Doc:  "Sets the session cookie and returns the session's CSRF token, which every POST, PATCH and DELETE of the session must send in the X-CSRF-Token header. Failed logins are limited per user name and per client address (429).",
			Body: LoginRequest{}, Result: LoginResult{}, Status: 200, handle: (*API).login},
		{Method: "POST", Path: "/api/v1/logout", Tag: "auth", Summary: "End the session and clear its cookie", Status: 204, handle: (*API).logout},
		{Method: "GET", Path: "/api/v1/me", Tag: "auth", Action: auth.View, Summary: "Who the request comes from, with which role",
			Result: Me{}, Status: 200, handle: (*API).me},

		// Pipelines.
		{Method: "GET", Path: "/api/v1/pipelines", Tag: "pipelines", Action: auth.View, Summary: "List pipelines with their schedules, params and recent runs",
			Doc:    "Filters combine: a pipeline is listed when it passes every one given. The list is by id; limit and offset cut a page of it.",
			Result: []Pipeline{}, Status: 200,
			Query: []QueryParam{
				{Name: "tag", Type: "string", Repeated: true, Doc: "only pipelines with any of these tags (repeat, or separate with commas)"},
				{Name: "state", Type: "string", Repeated: true, Doc: "only pipelines whose last run is in one of these states; none for no runs", Enum: []string{"queued", "running", "success", "failed", "cancelled", "none"}},
				{Name: "paused", Type: "boolean", Doc: "only paused (true) or active (false) pipelines"},
				{Name: "search", Type: "string", Doc: "only pipelines whose id or description contains this, ignoring case"},
				{Name: "limit", Type: "integer", Doc: "at most this many pipelines (default all); the X-Total-Count header says how many pass the filters"},
				{Name: "offset", Type: "integer", Doc: "skip this many pipelines first, for the next page"},
			},
			handle: (*API).listPipelines},
		{Method: "POST", Path: "/api/v1/pipelines", Tag: "pipelines", Action: auth.UploadPipelines, Summary: "Upload a pipeline file",
			Doc: "Send the file as multipart/form-data in the field \"file\", or as the raw body with Content-Type application/yaml (the file name in ?name=). " +
				"The file is parsed and validated like a file of the pipelines folder; a file with errors is refused with 422 and every error, positioned, in details, and nothing is stored. " +
				"A pipeline that comes from a file on the server cannot be replaced by an upload (409).",
			Kind: KindUpload, Result: UploadResult{}, Status: 201,
			Query:  []QueryParam{{Name: "name", Type: "string", Doc: "file name for a raw upload, such as orders.yaml (default upload.yaml)"}},
			handle: (*API).upload},
		{Method: "GET", Path: "/api/v1/pipelines/{id}", Tag: "pipelines", Action: auth.View, Summary: "Show a pipeline with the tasks and source of its live version",
			Result: PipelineDetail{}, Status: 200, handle: (*API).getPipeline},
		{Method: "DELETE", Path: "/api/v1/pipelines/{id}", Tag: "pipelines", Action: auth.DeletePipelines, Summary: "Delete a pipeline with all of its versions and runs",
			Doc:    "Refused with 409 while the pipeline's file exists in the pipelines folder, since the next scan would bring it back, unless and_file=true deletes the file too.",
			Query:  []QueryParam{{Name: "and_file", Type: "boolean", Doc: "also delete the pipeline's file from the pipelines folder"}},
			Status: 204, handle: (*API).deletePipeline},
		{Method: "POST", Path: "/api/v1/pipelines/{id}/pause", Tag: "pipelines", Action: auth.PausePipelines, Summary: "Pause a pipeline's schedule",
			Result: Pipeline{}, Status: 200, handle: (*API).pause},
		{Method: "POST", Path: "/api/v1/pipelines/{id}/unpause", Tag: "pipelines", Action: auth.PausePipelines, Summary: "Resume a pipeline's schedule",
			Result: Pipeline{}, Status: 200, handle: (*API).unpause},
		{Method: "POST", Path: "/api/v1/pipelines/{id}/runs", Tag: "pipelines", Action: auth.TriggerRuns, Summary: "Trigger a run of the live version now, with params",
			Doc:  "Params are checked against the pipeline's param types: a wrong type, an unknown param or a missing required one is refused with 422, with the problem of each param in details.",
			Body: TriggerRequest{}, Result: Run{}, Status: 201, handle: (*API).trigger},
		{Method: "GET", Path: "/api/v1/pipelines/{id}/versions", Tag: "pipelines", Action: auth.View, Summary: "List a pipeline's versions, newest first",
			Result: []Version{}, Status: 200, handle: (*API).listVersions},
		{Method: "GET", Path: "/api/v1/pipelines/{id}/versions/{version}", Tag: "pipelines", Action: auth.View, Summary: "Show one version with its source and normalized spec",
			Doc:    "{version} is a version id, \"live\", or at least 6 hex digits of the version's hash.",
			Result: VersionDetail{}, Status: 200, handle: (*API).getVersion},
		{Method: "GET", Path: "/api/v1/pipelines/{id}/diff", Tag: "pipelines", Action: auth.View, Summary: "Diff the sources of two versions",
			Result: Diff{}, Status: 200,
			Query: []QueryParam{
				{Name: "from", Type: "string", Doc: "version id, \"live\" or hash prefix; default the version before to"},
				{Name: "to", Type: "string", Doc: "version id, \"live\" or hash prefix; default live"},
			},
			handle: (*API).diff},

		// Runs.
		{Method: "GET", Path: "/api/v1/runs", Tag: "runs", Action: auth.View, Summary: "List runs, newest first, a page at a time",
			Result: RunList{}, Status: 200,
			Query: []QueryParam{
				{Name: "pipeline", Type: "string", Doc: "only runs of this pipeline"},
				{Name: "state", Type: "string", Repeated: true, Doc: "only runs in these states (repeat, or separate with commas)", Enum: []string{"queued", "running", "success", "failed", "cancelled"}},
				{Name: "before", Type: "integer", Doc: "only runs with smaller ids: the next_before of the previous page"},
				{Name: "limit", Type: "integer", Doc: "page size, default 50, at most 500"},
				tagQuery, sinceQuery, untilQuery,
			},
			handle: (*API).listRuns},
		{Method: "GET", Path: "/api/v1/task-instances", Tag: "runs", Action: auth.View, Summary: "List task instances across runs and pipelines, newest first, a page at a time",
			Doc:    "Filters combine: what failed last night everywhere is ?state=failed&since=12h.",
			Result: TaskInstanceList{}, Status: 200,
			Query: append([]QueryParam{{Name: "state", Type: "string", Repeated: true, Doc: "only task instances in these states (repeat, or separate with commas)",
				Enum: []string{"pending", "queued", "up_for_retry", "up_for_reschedule", "running", "success", "failed", "upstream_failed", "skipped", "cancelled"}}}, browseQuery...),
			handle: (*API).listTaskInstances},
		{Method: "GET", Path: "/api/v1/runs/{run}", Tag: "runs", Action: auth.View, Summary: "Show a run with its tasks",
			Result: RunDetail{}, Status: 200, handle: (*API).getRun},
		{Method: "POST", Path: "/api/v1/runs/{run}/cancel", Tag: "runs", Action: auth.ChangeRuns, Summary: "Cancel a queued or running run; its running tasks are stopped",
			Doc:    "A run that already finished cannot be cancelled (409).",
			Result: Run{}, Status: 200, handle: (*API).cancel},
		{Method: "POST", Path: "/api/v1/runs/{run}/retry", Tag: "runs", Action: auth.ChangeRuns, Summary: "Run a run's failed and upstream_failed tasks again",
			Result: RetryResult{}, Status: 200, handle: (*API).retry},
		{Method: "GET", Path: "/api/v1/runs/{run}/tasks/{task}", Tag: "runs", Action: auth.View, Summary: "Show a task of a run with its attempts and outputs",
			Doc: "A mapped task (for_each) lists its items, each with its state; ?item=N shows one item instead, with its own attempts. " +
				"A ready task that nothing can start says why in blocked.",
			Result: TaskDetail{}, Status: 200,
			Query:  []QueryParam{{Name: "item", Type: "integer", Doc: "the map_index of one item of a mapped task, from 0"}},
			handle: (*API).getTask},
		{Method: "POST", Path: "/api/v1/runs/{run}/clear", Tag: "runs", Action: auth.ChangeRuns, Summary: "Clear tasks with options: downstream, upstream, only failed, past and future runs",
			Doc: "Airflow's Clear dialog: the finished instances selected run again with fresh retries. dry_run lists them and changes nothing; " +
				"nothing to clear is a 409.",
			Body: ClearRequest{}, Result: SelectionResult{}, Status: 200, handle: (*API).clearSet},
		{Method: "POST", Path: "/api/v1/runs/{run}/mark", Tag: "runs", Action: auth.ChangeRuns, Summary: "Mark tasks success or failed with options: downstream, upstream, past and future runs",
			Doc:  "Airflow's Mark success / Mark failed with their options. dry_run lists what would change and changes nothing.",
			Body: MarkSetRequest{}, Result: SelectionResult{}, Status: 200, handle: (*API).markSet},
		{Method: "POST", Path: "/api/v1/runs/{run}/tasks/{task}/clear", Tag: "runs", Action: auth.ChangeRuns, Summary: "Run a finished task again, with everything downstream of it",
			Result: TaskInstance{}, Status: 200, handle: (*API).clearTask},
		{Method: "POST", Path: "/api/v1/runs/{run}/tasks/{task}/mark", Tag: "runs", Action: auth.ChangeRuns, Summary: "Set a task's final state by hand (success or failed)",
			Body: MarkRequest{}, Result: TaskInstance{}, Status: 200, handle: (*API).markTask},
		{Method: "GET", Path: "/api/v1/runs/{run}/tasks/{task}/logs", Tag: "runs", Action: auth.View, Summary: "Read or follow the log of a task's attempt",
			Doc: "As text/plain, one line per log line: \"<time RFC 3339, microseconds> <stdout|stderr|sluice> <text>\". " +
				"With follow=true or Accept: text/event-stream, a stream of server-sent events: each line as `data: {\"time\",\"stream\",\"line\"}` (with `id:` its line number, so Last-Event-ID resumes), " +
				"ending with `event: end` and `data: {\"attempt\",\"state\"}` once the attempt has finished and its log is complete. " +
				"Without attempt=, the latest attempt; when following a task that has not started, the stream waits for its first attempt.",
			Kind: KindLogs, Result: LogLine{}, Status: 200,
			Query: []QueryParam{
				{Name: "attempt", Type: "integer", Doc: "attempt number, from 1; default the latest"},
				{Name: "follow", Type: "boolean", Doc: "stream server-sent events until the attempt finishes"},
				{Name: "item", Type: "integer", Doc: "the map_index of one item of a mapped task, from 0: its log instead of the task's"},
			},
			handle: (*API).logs},

		// Assets.
		{Method: "GET", Path: "/api/v1/assets", Tag: "assets", Action: auth.View, Summary: "List the known assets, ordered by name, with their newest event, producers and consumers",
			Doc: "An asset is known while a task of a live pipeline version produces it, a pipeline is scheduled on it, or it has stored events. " +
				"A page holds at most limit assets; next_after, when present, is the after= of the next page.",
			Result: AssetList{}, Status: 200,
			Query: []QueryParam{
				{Name: "after", Type: "string", Doc: "only assets whose names sort after this one: the next_after of the previous page"},
				{Name: "limit", Type: "integer", Doc: "page size, default 100, at most 500"},
			},
			handle: (*API).listAssets},
		{Method: "GET", Path: "/api/v1/assets/{name}", Tag: "assets", Action: auth.View, Summary: "Show an asset with its producers, consumers and recent events",
			Doc:    "Write a / in the name as %2F. A name that is not an asset name is refused with 422; a name no pipeline and no event knows answers 404.",
			Result: AssetDetail{}, Status: 200, handle: (*API).getAsset},
		{Method: "POST", Path: "/api/v1/assets/{name}/events", Tag: "assets", Action: auth.TriggerRuns, Summary: "Record an event of an asset, and start the pipelines it completes",
			Doc: "What a task that lists the asset under produces: does when it succeeds, for data made outside sluice. " +
				"Each pipeline whose schedule: assets lists the asset, and whose every other asset has had an event since its last run on assets, gets a run at once (listed in runs). " +
				"Write a / in the name as %2F. A name that is not an asset name is refused with 422. " +
				"An Idempotency-Key header (or key in the body) makes the event once: sent again with the same key, the first event is answered with 200 and repeat set, and nothing starts.",
			Body: AssetEventRequest{}, Result: AssetEventResult{}, Status: 201, Also: map[int]any{200: AssetEventResult{}}, handle: (*API).emitAsset},
		{Method: "GET", Path: "/api/v1/assets/{name}/events", Tag: "assets", Action: auth.View, Summary: "List an asset's newest events, newest first",
			Result: []AssetEvent{}, Status: 200,
			Query:  []QueryParam{{Name: "limit", Type: "integer", Doc: "how many, default 50, at most 500"}},
			handle: (*API).listAssetEvents},

		// Backfills.
		{Method: "POST", Path: "/api/v1/pipelines/{id}/backfills", Tag: "backfills", Action: auth.TriggerRuns, Summary: "Backfill a range of logical dates, or list them with dry_run",
			Doc: "Creates one run per logical date of the pipeline's schedule from from to to, both included, queued behind max_active_runs and started oldest first. " +
				"A date (YYYY-MM-DD) is read in the pipeline's timezone: from is the start of its day, to includes its whole day. " +
				"A date that already has a run is left alone (counted in skipped) unless rerun is failed or all. " +
				"With dry_run, answers 200 with the dates and creates nothing. A pipeline without a schedule has no dates (422).",
			Body: BackfillRequest{}, Result: Backfill{}, Status: 201, Also: map[int]any{200: BackfillDates{}}, handle: (*API).createBackfill},
		{Method: "GET", Path: "/api/v1/pipelines/{id}/backfills", Tag: "backfills", Action: auth.View, Summary: "List a pipeline's backfills, newest first, with their progress",
			Result: []Backfill{}, Status: 200, handle: (*API).listBackfills},
		{Method: "GET", Path: "/api/v1/backfills/{backfill}", Tag: "backfills", Action: auth.View, Summary: "Show a backfill with the count of its runs by state",
			Result: Backfill{}, Status: 200, handle: (*API).getBackfill},
		{Method: "POST", Path: "/api/v1/backfills/{backfill}/cancel", Tag: "backfills", Action: auth.ChangeRuns, Summary: "Cancel a backfill's queued and running runs",
			Doc:    "Its finished runs stay as they are. A backfill that is done or cancelled already cannot be cancelled (409).",
			Result: Backfill{}, Status: 200, handle: (*API).cancelBackfill},

		// Pools, secrets and variables.
		{Method: "GET", Path: "/api/v1/pools", Tag: "pools", Action: auth.View, Summary: "List pools with their slots in use and their queues",
			Result: []Pool{}, Status: 200, handle: (*API).listPools},
		{Method: "PUT", Path: "/api/v1/pools/{name}", Tag: "pools", Action: auth.EditPools, Summary: "Create a pool, or change its slots and description",
			Doc:  "A name is up to 64 letters, digits, _, . and -. Tasks waiting for the pool may start at once when it grows.",
			Body: PoolSet{}, Result: Pool{}, Status: 200, handle: (*API).setPool},
		{Method: "DELETE", Path: "/api/v1/pools/{name}", Tag: "pools", Action: auth.EditPools, Summary: "Delete a pool; tasks that name it wait until it exists again",
			Status: 204, handle: (*API).deletePool},
		{Method: "GET", Path: "/api/v1/secrets", Tag: "secrets", Action: auth.ViewSecrets, Summary: "List secrets: names and times, never values",
			Result: []Secret{}, Status: 200, handle: (*API).listSecrets},
		{Method: "PUT", Path: "/api/v1/secrets/{name}", Tag: "secrets", Action: auth.EditSecrets, Summary: "Set a secret's value; it is encrypted and never returned",
			Doc: "A name is an environment variable name (letters, digits and _, not starting with a digit, not SLUICE_…): a task that lists it in secrets: gets it as that variable, masked as *** in its log, outputs and error (a value under 3 bytes is not masked). " +
				"The value is encrypted with the server's key ($SLUICE_SECRET_KEY, or on a single SQLite server its key file); a server without a key refuses (409).",
			Body: SecretSet{}, Status: 204, handle: (*API).setSecret},
		{Method: "DELETE", Path: "/api/v1/secrets/{name}", Tag: "secrets", Action: auth.EditSecrets, Summary: "Delete a secret",
			Status: 204, handle: (*API).deleteSecret},
		{Method: "GET", Path: "/api/v1/variables", Tag: "variables", Action: auth.ViewVariables, Summary: "List variables with their values",
			Result: []Variable{}, Status: 200, handle: (*API).listVariables},
		{Method: "GET", Path: "/api/v1/variables/{name}", Tag: "variables", Action: auth.ViewVariables, Summary: "Show one variable",
			Result: Variable{}, Status: 200, handle: (*API).getVariable},
		{Method: "PUT", Path: "/api/v1/variables/{name}", Tag: "variables", Action: auth.EditVariables, Summary: "Set a variable, read in expressions as ${{ vars.<name> }}",
			Doc:  "A name is letters, digits and _, not starting with a digit.",
			Body: VariableSet{}, Result: Variable{}, Status: 200, handle: (*API).setVariable},
		{Method: "DELETE", Path: "/api/v1/variables/{name}", Tag: "variables", Action: auth.EditVariables, Summary: "Delete a variable",
			Status: 204, handle: (*API).deleteVariable},

		// Workers.
		{Method: "GET", Path: "/api/v1/workers", Tag: "workers", Action: auth.View, Summary: "List the workers that announced themselves, with their labels and problems",
			Doc:    "A worker announces itself at every heartbeat; alive says it was seen within the last minute. Workers not seen for 10 minutes are forgotten.",
			Result: []Worker{}, Status: 200, handle: (*API).listWorkers},

		// Administration.
		{Method: "GET", Path: "/api/v1/users", Tag: "admin", Action: auth.ManageUsers, Summary: "List users",
			Result: []User{}, Status: 200, handle: (*API).listUsers},
		{Method: "POST", Path: "/api/v1/users", Tag: "admin", Action: auth.ManageUsers, Summary: "Add a user",
			Body: UserCreate{}, Result: User{}, Status: 201, handle: (*API).createUser},
		{Method: "PATCH", Path: "/api/v1/users/{name}", Tag: "admin", Action: auth.ManageUsers, Summary: "Change a user's role or password, or disable them",
			Doc:  "Changing the password or disabling a user ends their sessions. The last enabled admin cannot be demoted or disabled (409).",
			Body: UserUpdate{}, Result: User{}, Status: 200, handle: (*API).updateUser},
		{Method: "DELETE", Path: "/api/v1/users/{name}", Tag: "admin", Action: auth.ManageUsers, Summary: "Delete a user",
			Doc:    "You cannot delete yourself or the last enabled admin (409).",
			Status: 204, handle: (*API).deleteUser},
		{Method: "GET", Path: "/api/v1/tokens", Tag: "admin", Action: auth.ManageTokens, Summary: "List API tokens (without their secrets)",
			Result: []Token{}, Status: 200, handle: (*API).listTokens},
		{Method: "POST", Path: "/api/v1/tokens", Tag: "admin", Action: auth.ManageTokens, Summary: "Create an API token; its secret is shown only in this response",
			Body: TokenCreate{}, Result: NewToken{}, Status: 201, handle: (*API).createToken},
		{Method: "DELETE", Path: "/api/v1/tokens/{token}", Tag: "admin", Action: auth.ManageTokens, Summary: "Revoke an API token",
			Status: 204, handle: (*API).deleteToken},

		// Capacity planning.
		{Method: "GET", Path: "/api/v1/capacity", Tag: "capacity", Action: auth.View, Summary: "Plan capacity: daily trends of runs, run times, pool use and reported volumes, with forecasts",
			Doc: "For the last days (whole UTC days; today is left out) and each pipeline, pool and reported metric: daily series with a least-squares trend, " +
				"and forecasts in words of when a pool's busiest hour is full, when a pipeline's p95 run time passes its schedule interval, and when a metric's daily mean passes a threshold. " +
				"A forecast needs 7 days with data. Only runs still stored count: the report says where history starts when retention pruned older runs. " +
				"A threshold that names a metric no task reported in the window is refused (422) with the metrics that were.",
			Result: Capacity{}, Status: 200,
			Query: []QueryParam{
				{Name: "days", Type: "integer", Doc: "the window in whole days before today, default 28, at most 366"},
				{Name: "pipeline", Type: "string", Doc: "only this pipeline's runs and metrics; pools are always shown whole"},
				{Name: "threshold", Type: "string", Repeated: true, Doc: "pipeline.task.metric=value: forecast when the metric's daily mean passes value (5000000, 5e6 or 5M)"},
			},
			handle: (*API).capacity},

		// Maintenance.
		{Method: "POST", Path: "/api/v1/maintenance/cleanup", Tag: "maintenance", Action: auth.Maintain, Summary: "Prune finished runs past their retention now, or see what would go",
			Doc: "What the schedulers' retention job does every --retention-every: finished runs older than their pipeline's retention: (else the default) go with their task instances, attempts, logs, outputs and callbacks, in small batches. " +
				"With dry_run nothing is deleted. A cleanup returns after about 20 s with more: true when runs remain; ask again to go on. " +
				"While a scheduler is pruning, a cleanup is refused (409).",
			Body: CleanupRequest{}, Result: Cleanup{}, Status: 200, handle: (*API).cleanup},

		{Method: "GET", Path: openapiPath, Tag: "meta", Summary: "This API's OpenAPI 3.1 document",
			Kind: KindDocument, Status: 200, handle: (*API).openAPI},
	}
}

// pathParamTypes gives the schema type of numeric path parameters; the
// others are strings.
var pathParamTypes = map[string]string{"run": "integer", "token": "integer", "backfill": "integer"}

// Role returns the least role the route needs; empty for a route anyone
// may call.
func (rt Route) Role() store.Role {
	if rt.Action == "" {
		return ""
	}
	return rt.Action.Role()
}
