package sluice

// TriggerRule decides when a task instance runs, given the final states of
// its upstream instances. The rules and their skip propagation follow
// Apache Airflow's.
type TriggerRule string

// The trigger rules.
const (
	// AllSuccess (the default) runs when every upstream succeeded; it is
	// upstream_failed as soon as one failed and skipped as soon as one was
	// skipped.
	AllSuccess TriggerRule = "all_success"
	// AllFailed runs when every upstream failed; skipped otherwise.
	AllFailed TriggerRule = "all_failed"
	// AllDone runs when every upstream finished, whatever its state.
	AllDone TriggerRule = "all_done"
	// OneSuccess runs as soon as one upstream succeeded.
	OneSuccess TriggerRule = "one_success"
	// OneFailed runs as soon as one upstream failed.
	OneFailed TriggerRule = "one_failed"
	// NoneFailed runs when every upstream succeeded or was skipped.
	NoneFailed TriggerRule = "none_failed"
	// NoneFailedMinOneSuccess is NoneFailed with at least one success.
	NoneFailedMinOneSuccess TriggerRule = "none_failed_min_one_success"
	// NoneSkipped runs when every upstream finished and none was skipped.
	NoneSkipped TriggerRule = "none_skipped"
	// Always runs at once, without waiting for its upstream.
	Always TriggerRule = "always"
)

// TriggerRules lists every rule, in documentation order.
var TriggerRules = []TriggerRule{AllSuccess, AllFailed, AllDone, OneSuccess, OneFailed, NoneFailed, NoneFailedMinOneSuccess, NoneSkipped, Always}

// Valid reports whether r is a known rule.
func (r TriggerRule) Valid() bool {
	for _, k := range TriggerRules {
		if r == k {
			return true
		}
	}
	return false
}

// Upstream counts the upstream instances of one instance by final state.
type Upstream struct {
	Total          int
	Success        int
	Failed         int
	UpstreamFailed int
	Skipped        int
	// AllowedFailed counts the failed upstream instances whose task
	// allows failure (allow_failure: true); Failed does not count them.
	AllowedFailed int
}

// Done is the number of upstream instances in a final state.
func (u Upstream) Done() int {
	return u.Success + u.Failed + u.UpstreamFailed + u.Skipped + u.AllowedFailed
}

// Decide returns what becomes of a pending instance: InstanceQueued when it
// may run, a final state (InstanceSkipped or InstanceUpstreamFailed) when it
// never will, or InstancePending while it must wait for more upstream
// instances to finish.
//
// A failure an upstream task allows (Upstream.AllowedFailed) is a failure
// to the rules that wait for one (one_failed, all_failed) and a success to
// every other rule: the run carries on past it, and a handler of it runs.
func (r TriggerRule) Decide(u Upstream) InstanceState {
	if r == OneFailed || r == AllFailed {
		u.Failed += u.AllowedFailed
	} else {
		u.Success += u.AllowedFailed
	}
	u.AllowedFailed = 0
	failed := u.Failed + u.UpstreamFailed
	allDone := u.Done() >= u.Total
	switch r {
	case Always:
		return InstanceQueued
	case AllFailed:
		if u.Success+u.Skipped > 0 {
			return InstanceSkipped
		}
		if allDone {
			return InstanceQueued
		}
	case AllDone:
		if allDone {
			return InstanceQueued
		}
	case OneSuccess:
		if u.Success > 0 {
			return InstanceQueued
		}
		if allDone {
			if u.Skipped == u.Total {
				return InstanceSkipped
			}
			return InstanceUpstreamFailed
		}
	case OneFailed:
		if failed > 0 {
			return InstanceQueued
		}
		if allDone {
			return InstanceSkipped
		}
	case NoneFailed:
		if failed > 0 {
			return InstanceUpstreamFailed
		}
		if allDone {
			return InstanceQueued
		}
	case NoneFailedMinOneSuccess:
		if failed > 0 {
			return InstanceUpstreamFailed
		}
		if allDone {
			if u.Success > 0 {
				return InstanceQueued
			}
			return InstanceSkipped
		}
	case NoneSkipped:
		if u.Skipped > 0 {
			return InstanceSkipped
		}
		if allDone {
			return InstanceQueued
		}
	default: // AllSuccess
		if failed > 0 {
			return InstanceUpstreamFailed
		}
		if u.Skipped > 0 {
			return InstanceSkipped
		}
		if u.Success >= u.Total {
			return InstanceQueued
		}
	}
	return InstancePending
}
