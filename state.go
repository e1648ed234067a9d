package sluice

// RunState is the state of a run.
type RunState string

// The run states. A run is created queued, becomes running when
// max_active_runs allows, and ends in success, failed or cancelled.
const (
	RunQueued    RunState = "queued"
	RunRunning   RunState = "running"
	RunSuccess   RunState = "success"
	RunFailed    RunState = "failed"
	RunCancelled RunState = "cancelled"
)

// RunStates lists the run states, in the order a run goes through them.
var RunStates = []RunState{RunQueued, RunRunning, RunSuccess, RunFailed, RunCancelled}

// Finished reports whether s is a final state.
func (s RunState) Finished() bool {
	return s == RunSuccess || s == RunFailed || s == RunCancelled
}

// InstanceState is the state of a task instance.
type InstanceState string

// The task instance states.
const (
	// InstancePending waits for its upstream instances.
	InstancePending InstanceState = "pending"
	// InstanceQueued is ready and waits for a worker.
	InstanceQueued InstanceState = "queued"
	// InstanceUpForRetry failed and waits out its retry delay, after which
	// any worker may claim it.
	InstanceUpForRetry InstanceState = "up_for_retry"
	// InstanceUpForReschedule is a sensor or sub-pipeline task waiting
	// between two checks; it holds no worker slot meanwhile.
	InstanceUpForReschedule InstanceState = "up_for_reschedule"
	// InstanceRunning has an attempt holding a lease. A mapped task stays
	// running while its items run.
	InstanceRunning InstanceState = "running"
	// InstanceSuccess, InstanceFailed, InstanceUpstreamFailed, InstanceSkipped
	// and InstanceCancelled are final.
	InstanceSuccess        InstanceState = "success"
	InstanceFailed         InstanceState = "failed"
	InstanceUpstreamFailed InstanceState = "upstream_failed"
	InstanceSkipped        InstanceState = "skipped"
	InstanceCancelled      InstanceState = "cancelled"
)

// Finished reports whether s is a final state.
func (s InstanceState) Finished() bool {
	switch s {
	case InstanceSuccess, InstanceFailed, InstanceUpstreamFailed, InstanceSkipped, InstanceCancelled:
		return true
	}
	return false
}

// AttemptState is the state of one attempt. Every attempt starts running
// and ends in exactly one other state.
type AttemptState string

// The attempt states.
const (
	AttemptRunning AttemptState = "running"
	AttemptSuccess AttemptState = "success"
	AttemptFailed  AttemptState = "failed"
	// AttemptTimedOut was killed because it ran past the task's timeout.
	AttemptTimedOut AttemptState = "timed_out"
	// AttemptLost stopped heartbeating (its worker died or was cut off); a
	// scheduler took the lease back. It counts as a failure.
	AttemptLost AttemptState = "lost"
	// AttemptHandedBack was given back by a draining worker; it does not
	// count as a failure and the instance is queued again at once.
	AttemptHandedBack AttemptState = "handed_back"
	// AttemptCancelled was stopped because its run was cancelled, or its
	// task was cleared or marked by hand.
	AttemptCancelled AttemptState = "cancelled"
	// AttemptSkipped found the task's when: condition false.
	AttemptSkipped AttemptState = "skipped"
	// AttemptRescheduled checked a sensor's condition (or a sub-pipeline's
	// run) and found it not met yet; the task is checked again later.
	AttemptRescheduled AttemptState = "rescheduled"
)

// Failure reports whether s counts against the task's retries.
func (s AttemptState) Failure() bool {
	return s == AttemptFailed || s == AttemptTimedOut || s == AttemptLost
}
