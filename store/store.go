// Package store is the storage seam of sluice: the one place that holds
// state. Every process (scheduler, worker, web) is stateless and talks to a
// Store; store/sqlite and store/postgres implement it, and store/storetest is
// the conformance suite both must pass.
//
// Methods are named noun first, with one params struct each. Every method
// that changes state is a single transaction, safe to repeat or to lose when
// the caller crashes: run creation is idempotent on (pipeline, key), claims
// hand out leases with fencing tokens, and every write of an attempt is
// fenced by its token.
package store

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice"
)

// Store is the storage seam.
type Store interface {
	// PipelineSave stores a valid parse of a pipeline file: the pipeline is
	// created if new, the version is added if its hash is new, the version
	// becomes the live one and any recorded parse error is cleared. Saving
	// the live version again changes nothing but LoadedAt.
	PipelineSave(ctx context.Context, p *PipelineSaveParams) (*PipelineSaveResult, error)
	// PipelineSetError records that the file of a pipeline failed to parse.
	// The live version, if any, stays live.
	PipelineSetError(ctx context.Context, p *PipelineSetErrorParams) error
	// PipelineGet returns one pipeline or an ENOTFOUND error.
	PipelineGet(ctx context.Context, id string) (*Pipeline, error)
	// PipelineList returns every pipeline, ordered by id.
	PipelineList(ctx context.Context) ([]*Pipeline, error)
	// PipelineSetPaused pauses or unpauses scheduling of a pipeline.
	PipelineSetPaused(ctx context.Context, id string, paused bool) error
	// PipelineListDue returns unpaused pipelines whose next scheduled run is
	// due at or before now.
	PipelineListDue(ctx context.Context, now time.Time) ([]*Pipeline, error)
	// PipelineSetNextDue records when the scheduler should next look at the
	// pipeline; nil means never (no schedule, or past its end).
	PipelineSetNextDue(ctx context.Context, id string, next *time.Time) error
	// PipelineNextDue returns the earliest time after now that an unpaused
	// pipeline is next due, nil if none is: when the scheduler must look
	// again, whichever pipelines its last pass saw.
	PipelineNextDue(ctx context.Context, now time.Time) (*time.Time, error)
	// RunCreateScheduled creates the scheduled runs of several pipelines,
	// each as RunCreate would, and records each pipeline's next due time,
	// as PipelineSetNextDue would, in one transaction: all or nothing. It
	// returns the runs of each, in the order given.
	RunCreateScheduled(ctx context.Context, batch []*ScheduledRuns) ([][]RunCreated, error)

	// PipelineDelete deletes a pipeline with all of its versions, runs,
	// task instances, attempts, logs and outputs, in one transaction.
	PipelineDelete(ctx context.Context, id string) error

	// VersionGet returns one version with its source and spec.
	VersionGet(ctx context.Context, id int64) (*Version, error)
	// VersionList returns the versions of a pipeline, newest first, without
	// their source and spec.
	VersionList(ctx context.Context, pipelineID string) ([]*Version, error)

	// RunCreate creates a run, idempotently: a second call with the same
	// pipeline and key returns the existing run and created == false. The run
	// starts at once (its task instances are created and the roots queued)
	// when the pipeline has fewer than max_active_runs running runs;
	// otherwise it waits queued.
	RunCreate(ctx context.Context, p *RunCreateParams) (run *Run, created bool, err error)
	// RunStartQueued starts queued runs, oldest logical date first, while the
	// pipeline has room under max_active_runs. It returns how many started.
	RunStartQueued(ctx context.Context, pipelineID string) (int, error)
	// RunGet returns one run or an ENOTFOUND error.
	RunGet(ctx context.Context, id int64) (*Run, error)
	// RunList returns runs, newest first.
	RunList(ctx context.Context, p *RunListParams) ([]*Run, error)
	// RunCountActive counts the queued and running runs of a pipeline.
	RunCountActive(ctx context.Context, pipelineID string) (int, error)
	// RunListRecent returns the newest runs of every pipeline, at most
	// perPipeline each, newest first, keyed by pipeline id.
	RunListRecent(ctx context.Context, perPipeline int) (map[string][]*Run, error)
	// RunCancel cancels a queued or running run: its unfinished instances
	// end cancelled and its running attempts lose their leases, so their
	// workers stop them. It returns ECONFLICT for a finished run.
	RunCancel(ctx context.Context, id int64) error
	// RunRetryFailed runs the failed and upstream_failed instances of a
	// finished run again, with fresh retries; the run is running again.
	// It returns how many instances it reset.
	RunRetryFailed(ctx context.Context, id int64) (int, error)

	// InstanceList returns the task instances of a run, ordered by id.
	InstanceList(ctx context.Context, runID int64) ([]*Instance, error)
	// InstanceGet returns the instance of a task in a run.
	InstanceGet(ctx context.Context, runID int64, taskID string) (*Instance, error)
	// InstanceSelect returns some task instances of some runs, ordered by
	// run and id: what a page or a lookup needs without reading every
	// item of a run's mapped tasks.
	InstanceSelect(ctx context.Context, p *InstanceSelectParams) ([]*Instance, error)
	// InstanceClear runs a finished instance again, with fresh retries,
	// together with every instance downstream of it; the run is running
	// again. It returns ECONFLICT while the instance is unfinished.
	InstanceClear(ctx context.Context, runID int64, taskID string) error
	// InstanceMark sets an instance's final state by hand (success or
	// failed), stopping a running attempt, and lets its downstream
	// instances react as if it had finished so.
	InstanceMark(ctx context.Context, runID int64, taskID string, state sluice.InstanceState) error
	// InstanceClearSet clears (or, with DryRun, lists) the finished
	// instances that p selects, as Airflow's Clear dialog: tasks of a run,
	// with their downstream or upstream, only failed ones, in this run and
	// earlier or later runs of its pipeline. It returns what it cleared:
	// run by run, oldest logical date first, and within a run in the
	// dependency order of its version (ties by task id, as
	// pipeline.Pipeline.TopoOrder).
	InstanceClearSet(ctx context.Context, p *ClearParams) ([]*Selected, error)
	// InstanceMarkSet marks (or, with DryRun, lists) the instances that p
	// selects success or failed, as InstanceMark does one; it returns
	// them in InstanceClearSet's order.
	InstanceMarkSet(ctx context.Context, p *MarkParams) ([]*Selected, error)
	// InstanceClaim claims up to Limit claimable instances (queued, or up for
	// retry and past their delay), highest priority first, then oldest. Each
	// claim starts a new attempt holding a lease until LeaseExpiresAt.
	InstanceClaim(ctx context.Context, p *InstanceClaimParams) ([]*Claim, error)

	// AttemptHeartbeat extends the leases of running attempts. It returns the
	// leases that are no longer held; their holder must stop them.
	AttemptHeartbeat(ctx context.Context, p *AttemptHeartbeatParams) (lost []Lease, err error)
	// AttemptLogAppend stores a chunk of an attempt's log, fenced by its
	// lease: it fails with sluice.ErrLeaseLost when the lease is not held.
	AttemptLogAppend(ctx context.Context, p *AttemptLogAppendParams) error
	// AttemptLogAppendMany stores chunks of several attempts' logs in one
	// transaction; results[i] is ErrLeaseLost for a chunk whose lease
	// is gone (the others are stored), and err fails them all.
	AttemptLogAppendMany(ctx context.Context, ps []*AttemptLogAppendParams) (results []error, err error)
	// AttemptComplete records the outcomes of attempts, each fenced by its
	// lease, together with their outputs and last log chunks, and in the
	// same transaction moves their instances on (retry or final), makes newly
	// ready downstream instances claimable, and finishes runs that are done.
	// results[i] is nil or sluice.ErrLeaseLost for p[i]; err is for the
	// transaction as a whole.
	AttemptComplete(ctx context.Context, p []*AttemptCompleteParams) (results []error, err error)
	// AttemptCompleteClaim is AttemptComplete, then, in the same
	// transaction and when the completions made an instance claimable,
	// a claim as InstanceClaim's for the worker's free slots (nil claims
	// nothing): a worker whose attempt readies the next task of a chain
	// starts it without a transaction and a wake-up of its own. The
	// claims are returned only when the whole transaction committed. On
	// PostgreSQL the claim takes instances without limits (pools,
	// max_parallel, max_active_tasks); those are left to the next
	// InstanceClaim.
	AttemptCompleteClaim(ctx context.Context, p []*AttemptCompleteParams, next *ClaimAlong) (results []error, claims []*Claim, err error)
	// AttemptSetContainer records the image and container of a container
	// task's attempt, fenced by its lease: it fails with
	// sluice.ErrLeaseLost when the lease is not held.
	AttemptSetContainer(ctx context.Context, lease Lease, image, containerID string) error
	// AttemptSetBlocked sets the blocked reason of a running attempt's
	// instance (a Kubernetes Pod the cluster cannot schedule yet; "" once
	// it can), fenced by its lease: it fails with sluice.ErrLeaseLost when
	// the lease is not held.
	AttemptSetBlocked(ctx context.Context, lease Lease, reason string) error
	// AttemptHandBack gives leases back without counting a failure: each
	// attempt ends handed_back and its instance is queued again at once.
	AttemptHandBack(ctx context.Context, leases []Lease) error
	// AttemptReap ends the running attempts whose lease expired before
	// p.ExpiredBefore as lost (a failure, subject to retries), with p.Reason.
	// It returns the reaped attempts.
	AttemptReap(ctx context.Context, p *AttemptReapParams) ([]*Attempt, error)
	// AttemptList returns the attempts of a task instance in order.
	AttemptList(ctx context.Context, instanceID int64) ([]*Attempt, error)
	// AttemptListByRun returns every attempt of a run, ordered by id.
	AttemptListByRun(ctx context.Context, runID int64) ([]*Attempt, error)
	// AttemptListByID returns the attempts of those ids that exist,
	// ordered by id.
	AttemptListByID(ctx context.Context, ids []int64) ([]*Attempt, error)

	// LogList returns the log chunks of an attempt with Seq > afterSeq.
	LogList(ctx context.Context, attemptID int64, afterSeq int) ([]*LogChunk, error)
	// OutputList returns the outputs of the given tasks in a run, keyed by
	// task id and then output key. Only successful attempts have outputs.
	OutputList(ctx context.Context, runID int64, taskIDs []string) (map[string]map[string]string, error)

	// Users, sessions, API tokens and login rate limiting; see auth.go.
	Auth
	// Pools, mapped tasks, secrets, variables, callbacks; see features.go.
	Features
	// Backfills; see backfill.go.
	Backfiller
	// Workers, missing files, blocked instances; see lifecycle.go.
	Lifecycle
	Browse
	// History aggregates for capacity planning; see capacity.go.
	Capacity
	// Pruning and periodic jobs; see retention.go.
	Retention
	// Asset events and asset-triggered runs; see assets.go.
	Assets
	// What is known about assets, for the UI, API and CLI; see assets.go.
	AssetView
	// What files triggers handled; see files.go.
	Files

	// Wait returns a channel that is closed the next time the topic is
	// notified. Get the channel before looking for work, so that a
	// notification between the look and the wait is not lost. Notifications
	// are hints: a waiter must also poll.
	Wait(topic Topic) <-chan struct{}

	// Close releases the store's resources.
	Close() error
}

// Topic names a kind of change that waiting processes care about.
type Topic int

// The topics.
const (
	// TopicReady: task instances became claimable.
	TopicReady Topic = iota
	// TopicRuns: a run was created, started or finished.
	TopicRuns
	// TopicInstances: a task instance changed state.
	TopicInstances
	// TopicPipelines: a pipeline or version was saved or changed.
	TopicPipelines
	// TopicCallbacks: callbacks are waiting to run.
	TopicCallbacks
	// TopicLeases: leases were taken away (a run was cancelled, an
	// instance marked or cleared); workers check theirs at once instead of
	// at their next heartbeat.
	TopicLeases
	numTopics
)

// NumTopics is the number of topics, for implementations that keep one
// signal per topic.
const NumTopics = int(numTopics)

// Pipeline is a pipeline as stored: its identity, scheduling state, live
// version and last parse error.
type Pipeline struct {
	ID string
	// VersionID is the live version; 0 when no valid version was ever saved.
	VersionID int64
	// Hash is the live version's hash.
	Hash string
	// File is the path the pipeline was loaded from, empty if uploaded.
	File     string
	Paused   bool
	Schedule string
	// MaxActiveRuns bounds the running runs of the pipeline.
	MaxActiveRuns int
	// NextDueAt is when the scheduler next looks at it; nil for never.
	NextDueAt *time.Time
	// LastScheduledAt is the logical date of the newest scheduled run.
	LastScheduledAt *time.Time
	// Missing reports that its file left the pipelines folder: no new runs.
	Missing bool
	// ParseError is the last error of the pipeline's file, empty when the
	// file parsed. ParseErrorAt is when it was recorded.
	ParseError   string
	ParseErrorAt *time.Time
	LoadedAt     time.Time
	CreatedAt    time.Time
	// Retention is how long its finished runs are kept; 0 for the
	// server's default.
	Retention time.Duration
	// AssetWarnings are what the pipelines folder found wrong with the
	// pipeline's asset links (see Assets.PipelineSetAssetWarnings), one
	// per line; empty when none.
	AssetWarnings string
	// Description and Tags are the live version's.
	Description string
	Tags        []string
}

// Version is an immutable parse of a pipeline file.
type Version struct {
	ID         int64
	PipelineID string
	Hash       string
	// Source is the file as written; Spec its normalized JSON.
	Source    string
	Spec      []byte
	File      string
	CreatedAt time.Time
}

// VersionTask is what the store must know about a task to schedule it
// without parsing the pipeline: its place in the graph and its policies.
type VersionTask struct {
	TaskID      string
	Upstream    []string
	TriggerRule sluice.TriggerRule
	Priority    int
	Retry       sluice.RetryPolicy
	// Pool and PoolSlots: the pool whose slots the task takes.
	Pool      string
	PoolSlots int
	// Requires lists the worker labels the task needs.
	Requires []string
	// Mapped tasks (for_each) expand into one instance per item, at most
	// MaxParallel (0: any number) running at once.
	Mapped      bool
	MaxParallel int
	// Callbacks says which task callbacks exist (CallbackSuccess, …).
	Callbacks int
	// QueuedTimeout fails a ready instance that nothing can start (no
	// worker with its labels, a pool too small) after this long; 0 for
	// the default (1h).
	QueuedTimeout time.Duration
	// Produces lists the assets each success of the task updates.
	Produces []string
	// AllowFailure: a failure of the task does not fail its run.
	AllowFailure bool
}

// Callback bits: which callbacks a task or pipeline has.
const (
	CallbackSuccess = 1
	CallbackFailure = 2
	CallbackRetry   = 4
	// CallbackProduces is not a callback: it marks a task that produces
	// assets, so the success of a task that does not costs nothing more.
	CallbackProduces = 8
)

// PipelineSaveParams are the arguments of Store.PipelineSave.
type PipelineSaveParams struct {
	ID            string
	Hash          string
	Source        string
	Spec          []byte
	File          string
	Schedule      string
	MaxActiveRuns int
	// MaxActiveTasks bounds the running task instances of the pipeline;
	// 0 for no bound.
	MaxActiveTasks int
	// Callbacks says which run callbacks the pipeline has.
	Callbacks int
	// Retention is how long finished runs are kept; 0 for the default.
	Retention time.Duration
	Tasks     []VersionTask
	// Assets lists the assets the pipeline is scheduled on: it runs when
	// each has a new event. Saving the pipeline sets its list (keeping
	// what each asset still listed has consumed); nil clears it.
	Assets []string
	// AssetParams is the JSON of the params of asset-triggered runs: the
	// pipeline's defaults.
	AssetParams []byte
	// AssetCondition is the JSON of the sluice.AssetCondition the
	// pipeline runs on; nil for all of Assets.
	AssetCondition []byte
	// Description and Tags are the version's, kept on the pipeline for
	// the list's search and tag filter.
	Description string
	Tags        []string
}

// PipelineSaveResult is the result of Store.PipelineSave.
type PipelineSaveResult struct {
	VersionID int64
	// Created reports that the version's hash was new.
	Created bool
	// Changed reports that the live version changed.
	Changed bool
}

// PipelineSetErrorParams are the arguments of Store.PipelineSetError.
type PipelineSetErrorParams struct {
	ID    string
	File  string
	Error string
}

// RunKind says why a run exists.
type RunKind string

// The run kinds.
const (
	RunScheduled RunKind = "scheduled"
	RunManual    RunKind = "manual"
	RunBackfill  RunKind = "backfill"
	// RunWebhook is a run asked for by a delivery to a webhook trigger.
	RunWebhook RunKind = "webhook"
	// RunAsset is a run of a pipeline scheduled on assets, started when
	// every asset it waits for had a new event.
	RunAsset RunKind = "asset"
	// RunFiles is a run started by a file's arrival (a files trigger).
	RunFiles RunKind = "files"
)

// Run is one execution of a pipeline version.
type Run struct {
	ID          int64
	PipelineID  string
	VersionID   int64
	Key         string
	Kind        RunKind
	LogicalDate time.Time
	// Params is the JSON object of the run's bound params.
	Params     []byte
	State      sluice.RunState
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	// ParentRunID and ParentTask name the pipeline: task that started
	// this run, if one did.
	ParentRunID *int64
	ParentTask  string
}

// ScheduledRuns are the runs a scheduler pass creates for one pipeline,
// with when the pipeline is next due (nil: never).
type ScheduledRuns struct {
	PipelineID string
	Runs       []*RunCreateParams
	NextDue    *time.Time
}

// RunCreated is a run RunCreateScheduled returns, and whether it created
// it (false: a run of that key was there already).
type RunCreated struct {
	Run     *Run
	Created bool
}

// RunCreateParams are the arguments of Store.RunCreate.
type RunCreateParams struct {
	PipelineID string
	// VersionID pins the run; 0 means the pipeline's live version.
	VersionID int64
	// Key is unique per pipeline: "scheduled__2026-01-02T03:00:00Z" for a
	// scheduled run, anything unique for others.
	Key         string
	Kind        RunKind
	LogicalDate time.Time
	Params      []byte
	// ParentRunID and ParentTask, for a run started by a pipeline: task.
	ParentRunID int64
	ParentTask  string
	// Event, when set, is the trigger event that asks for the run. It is
	// recorded in the transaction that creates the run, under a unique
	// (pipeline, source, key): when the same event comes again, or two
	// copies race, RunCreate returns the run of the first one with
	// created == false, whatever the run key says.
	Event *TriggerEvent
}

// TriggerEvent is one event that asks for a run: a webhook delivery (and,
// later, an asset event or a file arrival). Its dedup key is what makes each
// event run its pipeline exactly once.
type TriggerEvent struct {
	// Source names the trigger within the pipeline, e.g. "webhook" or
	// "webhook/github".
	Source string
	// Key identifies the event within its source, e.g. a delivery id; at
	// most MaxEventKeyLen bytes.
	Key string
}

// MaxEventKeyLen is the longest trigger event key (and source) accepted.
const MaxEventKeyLen = 200

// InstanceSelectParams are the arguments of Store.InstanceSelect.
type InstanceSelectParams struct {
	// RunIDs are the runs; none selects nothing.
	RunIDs []int64
	// TaskID keeps one task's instances when not empty.
	TaskID string
	// Which keeps the tasks themselves (NoItems: a mapped task's own
	// instance, not its items), the items of mapped tasks (OnlyItems), or
	// one item (Item, with MapIndex); the zero value keeps all.
	Which    InstanceWhich
	MapIndex int
}

// InstanceWhich is which instances InstanceSelect keeps.
type InstanceWhich int

const (
	AllInstances InstanceWhich = iota
	NoItems
	OnlyItems
	Item
)

// RunListParams are the arguments of Store.RunList.
type RunListParams struct {
	// PipelineID filters by pipeline when not empty.
	PipelineID string
	// States filters by state when not empty.
	States []sluice.RunState
	// LogicalDate filters by logical date when set.
	LogicalDate *time.Time
	// BeforeID returns runs with smaller ids, for paging; 0 for the newest.
	BeforeID int64
	// Limit is the page size; default 100.
	Limit int
	// Tags keeps runs of pipelines with any of these tags, when not
	// empty; Since and Until (exclusive) bound the logical date, when set.
	Tags         []string
	Since, Until *time.Time
}

// Instance is one task inside one run.
type Instance struct {
	ID     int64
	RunID  int64
	TaskID string
	// MapIndex is -1 for a task and the item's index for an instance of a
	// mapped task's item; ParentID then points at the mapped task's
	// instance and Item holds the item.
	MapIndex int
	ParentID *int64
	Item     *string
	// ItemsTotal counts the items of a mapped task that expanded.
	ItemsTotal int
	State      sluice.InstanceState
	// Attempts is the number of attempts started; Failures how many of
	// them failed (counting against the retries).
	Attempts int
	Failures int
	Priority int
	// ReadyAt is when a queued or up_for_retry instance becomes claimable.
	ReadyAt *time.Time
	// Blocked says why a ready instance cannot start; empty when it can.
	Blocked    string
	StartedAt  *time.Time
	FinishedAt *time.Time
	// AllowFailure: the instance's failure does not fail its run.
	AllowFailure bool
	// Note says why the instance ended with no attempt to tell it: the
	// when: condition that skipped it.
	Note string
}

// Lease identifies a held attempt: its id and its fencing token.
type Lease struct {
	AttemptID int64
	Token     int64
}

// InstanceClaimParams are the arguments of Store.InstanceClaim.
type InstanceClaimParams struct {
	Worker string
	// Labels are the worker's labels: it claims only instances whose
	// required labels are all among them.
	Labels []string
	Limit  int
	// LeaseDuration is how long the lease lasts without a heartbeat.
	LeaseDuration time.Duration
}

// ClaimAlong is the claim of Store.AttemptCompleteClaim.
type ClaimAlong struct {
	// Limit is ignored: Slots gives it.
	InstanceClaimParams
	// Slots takes the worker's free slots, without waiting, and returns
	// how many it took: the claim's limit. It is called at most once, and
	// only once the completions made an instance claimable, so that a
	// completion that readies nothing (most of a fan-out's) holds no slot
	// the worker's own claims could use meanwhile.
	Slots func() int
}

// Claim is a claimed task instance with its new attempt.
type Claim struct {
	Lease
	InstanceID int64
	RunID      int64
	PipelineID string
	VersionID  int64
	TaskID     string
	// MapIndex and Item, for an item of a mapped task.
	MapIndex int
	Item     *string
	Attempt  int
	// Failures counts the instance's failed attempts so far.
	Failures int
	// FirstStartedAt is when the instance's first attempt started (a
	// sensor's wait is measured from it).
	FirstStartedAt time.Time
	RunKey         string
	LogicalDate    time.Time
	Params         []byte
	// TriggerEvents is the JSON list of the asset events the run consumed
	// (see AssetEvent's JSON); nil for a run not started by assets.
	TriggerEvents []byte
	// Pool is the pool whose slots the attempt holds; empty for none.
	Pool string
	// ReadyAt is when the instance became claimable; StartedAt is now.
	ReadyAt        time.Time
	StartedAt      time.Time
	LeaseExpiresAt time.Time
	// Outputs are the outputs of the instance's direct upstream tasks,
	// keyed by task id and then output key, as OutputList gives them; nil
	// when they have none. They come with the claim so that a task starts
	// without another query.
	Outputs map[string]map[string]string
}

// AttemptHeartbeatParams are the arguments of Store.AttemptHeartbeat.
type AttemptHeartbeatParams struct {
	Leases        []Lease
	LeaseDuration time.Duration
}

// AttemptLogAppendParams are the arguments of Store.AttemptLogAppend.
type AttemptLogAppendParams struct {
	Lease Lease
	Chunk LogChunk
}

// LogChunk is a piece of an attempt's log: lines of the form
// "<unix micros> <o|e> <text>\n" (o for stdout, e for stderr).
type LogChunk struct {
	Seq  int
	Data []byte
}

// AttemptCompleteParams are the arguments of Store.AttemptComplete for one
// attempt.
type AttemptCompleteParams struct {
	Lease Lease
	// State is AttemptSuccess, AttemptFailed, AttemptTimedOut,
	// AttemptSkipped (the instance is skipped) or AttemptRescheduled (the
	// instance waits until RetryAt and is claimed again; not a failure).
	State    sluice.AttemptState
	RetryAt  time.Time
	ExitCode *int
	// Error says why the attempt failed, for people.
	Error      string
	FinishedAt time.Time
	// Outputs are recorded when State is AttemptSuccess.
	Outputs map[string]string
	// Log is the attempt's last log chunk, if any.
	Log *LogChunk
}

// AttemptReapParams are the arguments of Store.AttemptReap.
type AttemptReapParams struct {
	// ExpiredBefore reaps leases that expired before this time. A zero time
	// reaps every running attempt: for a single-process store whose previous
	// holder is known to be dead.
	ExpiredBefore time.Time
	Reason        string
	// Limit bounds the attempts reaped in one call; default 100.
	Limit int
}

// Attempt is one try of a task instance.
type Attempt struct {
	ID         int64
	InstanceID int64
	RunID      int64
	TaskID     string
	Number     int
	Worker     string
	// Token is the attempt's fencing token: with ID, it names the attempt
	// across installations (a container's labels carry both).
	Token int64
	State sluice.AttemptState
	// Image and ContainerID are set for a container task's attempt once
	// its container is created.
	Image          string
	ContainerID    string
	ExitCode       *int
	Error          string
	StartedAt      time.Time
	FinishedAt     *time.Time
	LeaseExpiresAt time.Time
}

// Pinger is implemented by stores that can check their database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Clocked is implemented by stores whose clock other processes share, such
// as a database server's: times a process records (an attempt's end) must
// be told by it, so they compare with the times the store writes itself.
type Clocked interface {
	Clock() sluice.Clock
}

// Observer hears what a store did, after each write transaction committed
// (or failed for good), so a process can measure the calls it made and
// count the events it caused. It must be quick and must not call the store.
type Observer interface {
	// DBCall reports one write transaction or read: its operation (the
	// store method, or "read"), how long it took, retries included, and
	// the error it ended with.
	DBCall(op string, d time.Duration, err error)
	// RunChanged reports a run that started (state running) or finished.
	RunChanged(e RunEvent)
}

// RunEvent is a run that started or finished.
type RunEvent struct {
	PipelineID string
	Kind       RunKind
	State      sluice.RunState
}

// Observable is implemented by stores that take an Observer.
type Observable interface {
	SetObserver(o Observer)
}

// WriteProber is implemented by stores that can check cheaply that the
// database takes writes (reachable, not read-only, not locked), with a
// write that changes nothing.
type WriteProber interface {
	ProbeWrite(ctx context.Context) error
}

// SchemaChecker is implemented by stores that can tell whether the
// database has every migration this binary needs.
type SchemaChecker interface {
	SchemaCheck(ctx context.Context) error
}

// Selection says which task instances a clear or a mark applies to,
// starting from tasks of one run (Airflow's Clear and Mark options).
type Selection struct {
	RunID int64
	// TaskIDs are the tasks chosen (one, or a group's); each must be a
	// task of the run.
	TaskIDs []string
	// Downstream and Upstream add every task after (before) them.
	Downstream, Upstream bool
	// Past and Future add the same tasks in the runs of the pipeline
	// whose logical date is before (after) the run's, at most MaxRunsSelected
	// runs in all.
	Past, Future bool
	// DryRun lists what would change and changes nothing.
	DryRun bool
}

// MaxRunsSelected bounds the runs one clear or mark can touch.
const MaxRunsSelected = 1000

// ClearParams are the arguments of Store.InstanceClearSet.
type ClearParams struct {
	Selection
	// OnlyFailed keeps only failed and upstream_failed instances.
	OnlyFailed bool
}

// MarkParams are the arguments of Store.InstanceMarkSet.
type MarkParams struct {
	Selection
	// State is success or failed.
	State sluice.InstanceState
}

// Selected is a task instance a clear or a mark applied to (or, on a dry
// run, would apply to), with its state before.
type Selected struct {
	RunID       int64
	LogicalDate time.Time
	TaskID      string
	State       sluice.InstanceState
}
