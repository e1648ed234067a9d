// Package storetest is the conformance suite of the storage seam: every
// store.Store implementation runs it against a real database. It tests
// behaviour only, through the store.Store interface.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
)

// Opener returns a fresh, empty store for one test using clock, and
// arranges for it to be closed when the test ends.
type Opener func(t *testing.T, clock sluice.Clock) store.Store

// Epoch is the time the suite's clocks start at.
var Epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Lease is the lease duration the suite claims with.
const Lease = 30 * time.Second

type testBundle struct {
	t     *testing.T
	ctx   context.Context
	s     store.Store
	clock *sluicetest.Clock
}

func setup(t *testing.T, open Opener) *testBundle {
	t.Helper()
	clock := sluicetest.NewClock(Epoch)
	return &testBundle{t: t, ctx: context.Background(), s: open(t, clock), clock: clock}
}

// task describes a task of a test pipeline.
type task struct {
	id       string
	up       []string
	rule     sluice.TriggerRule
	prio     int
	retry    sluice.RetryPolicy
	pool     string
	slots    int
	requires []string
	mapped   bool
	maxPar   int
	cb       int
	produces []string
	allow    bool // allow_failure
}

// pipelineOpts are pipeline-level settings for saveWith.
type pipelineOpts struct {
	maxActiveRuns  int
	maxActiveTasks int
	callbacks      int
	retention      time.Duration
	assets         []string
	// condition is the JSON of the asset condition; "" for all of assets.
	condition string
	schedule  string
}

// save stores a pipeline of the given tasks and returns its version id.
func (b *testBundle) save(id string, maxActive int, tasks ...task) int64 {
	b.t.Helper()
	return b.saveWith(id, pipelineOpts{maxActiveRuns: maxActive}, tasks...)
}

func (b *testBundle) saveWith(id string, o pipelineOpts, tasks ...task) int64 {
	b.t.Helper()
	var vts []store.VersionTask
	hash := fmt.Sprintf("%+v;", o)
	for _, tk := range tasks {
		vts = append(vts, store.VersionTask{TaskID: tk.id, Upstream: tk.up, TriggerRule: tk.rule, Priority: tk.prio, Retry: tk.retry,
			Pool: tk.pool, PoolSlots: tk.slots, Requires: tk.requires, Mapped: tk.mapped, MaxParallel: tk.maxPar, Callbacks: tk.cb, Produces: tk.produces, AllowFailure: tk.allow})
		hash += fmt.Sprintf("%+v;", tk)
	}
	params := &store.PipelineSaveParams{
		ID: id, Hash: hash, Source: "id: " + id, Spec: []byte(`{"id":"` + id + `"}`),
		MaxActiveRuns: o.maxActiveRuns, MaxActiveTasks: o.maxActiveTasks, Callbacks: o.callbacks, Retention: o.retention, Tasks: vts,
		Assets: o.assets, AssetParams: []byte(`{"from":"assets"}`), Schedule: o.schedule,
	}
	if o.condition != "" {
		params.AssetCondition = []byte(o.condition)
	}
	res, err := b.s.PipelineSave(b.ctx, params)
	if err != nil {
		b.t.Fatalf("PipelineSave: %v", err)
	}
	return res.VersionID
}

func (b *testBundle) createRun(pipelineID, key string) *store.Run {
	b.t.Helper()
	r, _, err := b.s.RunCreate(b.ctx, &store.RunCreateParams{
		PipelineID: pipelineID, Key: key, Kind: store.RunManual, LogicalDate: b.clock.Now(), Params: []byte(`{"n":1}`),
	})
	if err != nil {
		b.t.Fatalf("RunCreate: %v", err)
	}
	return r
}

func (b *testBundle) claim(limit int) []*store.Claim {
	b.t.Helper()
	cs, err := b.s.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "w1", Limit: limit, LeaseDuration: Lease})
	if err != nil {
		b.t.Fatalf("InstanceClaim: %v", err)
	}
	return cs
}

func (b *testBundle) claimOne(taskID string) *store.Claim {
	b.t.Helper()
	cs := b.claim(100)
	if len(cs) != 1 || cs[0].TaskID != taskID {
		b.t.Fatalf("claimed %v, want exactly %s", claimedTasks(cs), taskID)
	}
	return cs[0]
}

func claimedTasks(cs []*store.Claim) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.TaskID)
	}
	sort.Strings(ids)
	return ids
}

func (b *testBundle) complete(c *store.Claim, state sluice.AttemptState, outputs map[string]string) error {
	b.t.Helper()
	res, err := b.s.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{
		Lease: c.Lease, State: state, FinishedAt: b.clock.Now(), Outputs: outputs,
	}})
	if err != nil {
		b.t.Fatalf("AttemptComplete: %v", err)
	}
	return res[0]
}

func (b *testBundle) mustComplete(c *store.Claim, state sluice.AttemptState) {
	b.t.Helper()
	if err := b.complete(c, state, nil); err != nil {
		b.t.Fatalf("complete %s: %v", c.TaskID, err)
	}
}

func (b *testBundle) states(runID int64) map[string]sluice.InstanceState {
	b.t.Helper()
	ins, err := b.s.InstanceList(b.ctx, runID)
	if err != nil {
		b.t.Fatalf("InstanceList: %v", err)
	}
	out := map[string]sluice.InstanceState{}
	for _, in := range ins {
		if in.MapIndex < 0 {
			out[in.TaskID] = in.State
		}
	}
	return out
}

func (b *testBundle) wantStates(runID int64, want map[string]sluice.InstanceState) {
	b.t.Helper()
	got := b.states(runID)
	for task, w := range want {
		if got[task] != w {
			b.t.Errorf("task %s is %s, want %s (all: %v)", task, got[task], w, got)
		}
	}
}

func (b *testBundle) runState(id int64) sluice.RunState {
	b.t.Helper()
	r, err := b.s.RunGet(b.ctx, id)
	if err != nil {
		b.t.Fatalf("RunGet: %v", err)
	}
	return r.State
}

func isLeaseLost(err error) bool { return errors.Is(err, sluice.ErrLeaseLost) }

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(t *testing.T, open Opener){
		"AssetView":                testAssetView,
		"PipelineVersions":         testPipelineVersions,
		"PipelineParseError":       testPipelineParseError,
		"PipelinePauseAndDue":      testPipelinePauseAndDue,
		"RunCreateIdempotent":      testRunCreateIdempotent,
		"RunCreateScheduled":       testRunCreateScheduled,
		"RunCreateUnknown":         testRunCreateUnknown,
		"RunPinnedToVersion":       testRunPinnedToVersion,
		"MaxActiveRuns":            testMaxActiveRuns,
		"ClaimOrder":               testClaimOrder,
		"ClaimConcurrent":          testClaimConcurrent,
		"ClaimMany":                testClaimMany,
		"CompleteClaim":            testCompleteClaim,
		"CompleteClaimLimits":      testCompleteClaimLimits,
		"AllSuccessDecided":        testAllSuccessDecided,
		"ReadinessChain":           testReadinessChain,
		"ReadinessDiamond":         testReadinessDiamond,
		"UpstreamFailedPropagates": testUpstreamFailedPropagates,
		"CompletionsSettleRuns":    testCompletionsSettleRuns,
		"TriggerRuleAllDone":       testTriggerRuleAllDone,
		"RetryDelay":               testRetryDelay,
		"Fencing":                  testFencing,
		"LeaseExpiry":              testLeaseExpiry,
		"ReapAll":                  testReapAll,
		"Heartbeat":                testHeartbeat,
		"HandBack":                 testHandBack,
		"Logs":                     testLogs,
		"Outputs":                  testOutputs,
		"ClaimCarriesOutputs":      testClaimCarriesOutputs,
		"ProbeWrite":               testProbeWrite,
		"CompleteBatch":            testCompleteBatch,
		"WaitReady":                testWaitReady,
		"RunList":                  testRunList,
		"PipelineSearch":           testPipelineSearch,
		"Browse":                   testBrowse,
		"FanoutJoin":               testFanoutJoin,
		"PipelineDelete":           testPipelineDelete,
		"AttemptsGoWithInstances":  testAttemptsGoWithInstances,
		"VersionListAndRecentRuns": testVersionListAndRecentRuns,
		"RunCancel":                testRunCancel,
		"RunRetryFailed":           testRunRetryFailed,
		"InstanceClear":            testInstanceClear,
		"InstanceMark":             testInstanceMark,
		"UsersSessionsTokens":      testUsersSessionsTokens,
		"Pools":                    testPools,
		"PoolsConcurrent":          testPoolsConcurrent,
		"MaxActiveTasks":           testMaxActiveTasks,
		"WorkerLabels":             testWorkerLabels,
		"Mapping":                  testMapping,
		"InstanceSelect":           testInstanceSelect,
		"AttemptListByID":          testAttemptListByID,
		"LogsMany":                 testLogsMany,
		"MappingMaxParallel":       testMappingMaxParallel,
		"MappingEmptyAndFailed":    testMappingEmptyAndFailed,
		"SkipPropagates":           testSkipPropagates,
		"Reschedule":               testReschedule,
		"ChildRunWakesParent":      testChildRunWakesParent,
		"Callbacks":                testCallbacks,
		"SecretsAndVariables":      testSecretsAndVariables,
		"Backfill":                 testBackfill,
		"Lifecycle":                testLifecycle,
		"CapacityHistory":          testCapacityHistory,
		"ObserveAndStats":          testObserveAndStats,
		"RetentionPrune":           testRetentionPrune,
		"JobLease":                 testJobLease,
		"TriggerEventOnce":         testTriggerEventOnce,
		"AssetChain":               testAssetChain,
		"AssetEventsRace":          testAssetEventsRace,
		"AllowFailure":             testAllowFailure,
		"SkipKeepsNoAttempt":       testSkipKeepsNoAttempt,
		"AssetEventKey":            testAssetEventKey,
		"ClearSetAndMarkSet":       testClearSetAndMarkSet,
		"ClearSetOrder":            testClearSetOrder,
		"AssetConditions":          testAssetConditions,
		"AssetCronAndAssets":       testAssetCronAndAssets,
		"AssetTriggerEvents":       testAssetTriggerEvents,
		"AssetEventsBounded":       testAssetTriggerEventsBounded,
		"AssetWarnings":            testAssetWarnings,
		"AssetRetention":           testAssetRetention,
		"AssetCycleLockOrder":      testAssetCycleLockOrder,
		"FileArrivals":             testFileArrivals,
		"FileWatchNotes":           testFileWatchNotes,
	}
	names := make([]string, 0, len(tests))
	for name := range tests {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fn := tests[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}
