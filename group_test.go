package sluice_test

import (
	"testing"

	"github.com/sluice-dev/sluice"
)

func TestGroupState(t *testing.T) {
	t.Parallel()
	const (
		pending  = sluice.InstancePending
		queued   = sluice.InstanceQueued
		running  = sluice.InstanceRunning
		retry    = sluice.InstanceUpForRetry
		resched  = sluice.InstanceUpForReschedule
		success  = sluice.InstanceSuccess
		failed   = sluice.InstanceFailed
		upfailed = sluice.InstanceUpstreamFailed
		skipped  = sluice.InstanceSkipped
		canceled = sluice.InstanceCancelled
	)
	tests := []struct {
		name string
		in   []sluice.InstanceState
		want sluice.InstanceState
	}{
		{"no instances", nil, ""},
		{"only absent tasks", []sluice.InstanceState{"", ""}, ""},
		{"all success", []sluice.InstanceState{success, success}, success},
		{"success and skipped", []sluice.InstanceState{skipped, success}, success},
		{"all skipped", []sluice.InstanceState{skipped, skipped}, skipped},
		{"a failure beats running", []sluice.InstanceState{running, failed, success}, failed},
		{"failed beats upstream_failed", []sluice.InstanceState{upfailed, failed}, failed},
		{"upstream_failed beats running", []sluice.InstanceState{running, upfailed}, upfailed},
		{"running beats pending", []sluice.InstanceState{success, pending, running}, running},
		{"up_for_retry", []sluice.InstanceState{success, retry, queued}, retry},
		{"up_for_reschedule", []sluice.InstanceState{resched, queued}, resched},
		{"queued beats pending", []sluice.InstanceState{pending, queued, success}, queued},
		{"pending with some done", []sluice.InstanceState{success, pending}, pending},
		{"cancelled beats success", []sluice.InstanceState{success, canceled}, canceled},
		{"a pending task keeps it open though one was cancelled", []sluice.InstanceState{canceled, pending}, pending},
		{"absent tasks are ignored", []sluice.InstanceState{"", success}, success},
	}
	for _, tt := range tests {
		if got := sluice.GroupState(tt.in...); got != tt.want {
			t.Errorf("%s: GroupState(%v) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
