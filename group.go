package sluice

// groupStateOrder is the order in which GroupState picks a group's state:
// the first state any of its instances is in wins, so a failure shows
// even while other tasks still run, and a group is green only when every
// task is done without one.
var groupStateOrder = []InstanceState{
	InstanceFailed,
	InstanceUpstreamFailed,
	InstanceRunning,
	InstanceUpForRetry,
	InstanceUpForReschedule,
	InstanceQueued,
	InstancePending,
	InstanceCancelled,
	InstanceSuccess,
	InstanceSkipped,
}

// GroupState returns the aggregate state of a task group from the states
// of its task instances, as Airflow's UI shows a TaskGroup:
//
//   - failed if any failed, else upstream_failed if any is;
//   - else running if any runs, then up_for_retry, up_for_reschedule,
//     queued and pending in that order (the group is not done);
//   - else cancelled if any was cancelled;
//   - else success if any succeeded (the rest were skipped);
//   - else skipped: every task was skipped.
//
// Empty states (a task with no instance in the run) are ignored; with no
// state at all the result is "", no state.
func GroupState(states ...InstanceState) InstanceState {
	seen := map[InstanceState]bool{}
	for _, s := range states {
		seen[s] = true
	}
	for _, s := range groupStateOrder {
		if seen[s] {
			return s
		}
	}
	return ""
}
