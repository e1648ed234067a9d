package sluice_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice"
)

// TestTriggerRules checks every rule against every mix of two and of three
// upstream states. Each want string has one letter per rule, in the order
// of sluice.TriggerRules (all_success, all_failed, all_done, one_success,
// one_failed, none_failed, none_failed_min_one_success, none_skipped,
// always): Q the task may run (queued), P it waits (pending), S it is
// skipped, U it is upstream_failed. "pending" upstreams have not finished.
//
// The semantics are Airflow's, with its skip propagation: all_success is
// upstream_failed as soon as an upstream failed and skipped as soon as one
// was skipped; one_success fails when all finished without a success
// (skipped when all were skipped); none_failed_min_one_success is skipped
// when all were skipped; one_failed is skipped when all finished without a
// failure; all_failed is skipped as soon as one succeeded or was skipped.
func TestTriggerRules(t *testing.T) {
	t.Parallel()
	letter := map[sluice.InstanceState]byte{
		sluice.InstanceQueued: 'Q', sluice.InstancePending: 'P', sluice.InstanceSkipped: 'S', sluice.InstanceUpstreamFailed: 'U',
	}
	tests := []struct {
		upstream string
		want     string
	}{
		{"pending pending", "PPPPPPPPQ"},
		{"pending success", "PSPQPPPPQ"},
		{"pending failed", "UPPPQUUPQ"},
		{"pending upstream_failed", "UPPPQUUPQ"},
		{"pending skipped", "SSPPPPPSQ"},
		{"success success", "QSQQSQQQQ"},
		{"success failed", "USQQQUUQQ"},
		{"success upstream_failed", "USQQQUUQQ"},
		{"success skipped", "SSQQSQQSQ"},
		{"failed failed", "UQQUQUUQQ"},
		{"failed upstream_failed", "UQQUQUUQQ"},
		{"failed skipped", "USQUQUUSQ"},
		{"upstream_failed upstream_failed", "UQQUQUUQQ"},
		{"upstream_failed skipped", "USQUQUUSQ"},
		{"skipped skipped", "SSQSSQSSQ"},
		{"pending pending pending", "PPPPPPPPQ"},
		{"pending pending success", "PSPQPPPPQ"},
		{"pending pending failed", "UPPPQUUPQ"},
		{"pending pending upstream_failed", "UPPPQUUPQ"},
		{"pending pending skipped", "SSPPPPPSQ"},
		{"pending success success", "PSPQPPPPQ"},
		{"pending success failed", "USPQQUUPQ"},
		{"pending success upstream_failed", "USPQQUUPQ"},
		{"pending success skipped", "SSPQPPPSQ"},
		{"pending failed failed", "UPPPQUUPQ"},
		{"pending failed upstream_failed", "UPPPQUUPQ"},
		{"pending failed skipped", "USPPQUUSQ"},
		{"pending upstream_failed upstream_failed", "UPPPQUUPQ"},
		{"pending upstream_failed skipped", "USPPQUUSQ"},
		{"pending skipped skipped", "SSPPPPPSQ"},
		{"success success success", "QSQQSQQQQ"},
		{"success success failed", "USQQQUUQQ"},
		{"success success upstream_failed", "USQQQUUQQ"},
		{"success success skipped", "SSQQSQQSQ"},
		{"success failed failed", "USQQQUUQQ"},
		{"success failed upstream_failed", "USQQQUUQQ"},
		{"success failed skipped", "USQQQUUSQ"},
		{"success upstream_failed upstream_failed", "USQQQUUQQ"},
		{"success upstream_failed skipped", "USQQQUUSQ"},
		{"success skipped skipped", "SSQQSQQSQ"},
		{"failed failed failed", "UQQUQUUQQ"},
		{"failed failed upstream_failed", "UQQUQUUQQ"},
		{"failed failed skipped", "USQUQUUSQ"},
		{"failed upstream_failed upstream_failed", "UQQUQUUQQ"},
		{"failed upstream_failed skipped", "USQUQUUSQ"},
		{"failed skipped skipped", "USQUQUUSQ"},
		{"upstream_failed upstream_failed upstream_failed", "UQQUQUUQQ"},
		{"upstream_failed upstream_failed skipped", "USQUQUUSQ"},
		{"upstream_failed skipped skipped", "USQUQUUSQ"},
		{"skipped skipped skipped", "SSQSSQSSQ"},
	}
	for _, tt := range tests {
		u := upstreamOf(strings.Fields(tt.upstream))
		for i, rule := range sluice.TriggerRules {
			got := letter[rule.Decide(u)]
			if got != tt.want[i] {
				t.Errorf("%s with upstream [%s] = %c, want %c", rule, tt.upstream, got, tt.want[i])
			}
		}
	}
	if len(sluice.TriggerRules) != 9 {
		t.Fatalf("%d rules: update the table", len(sluice.TriggerRules))
	}
	for _, r := range sluice.TriggerRules {
		if !r.Valid() {
			t.Errorf("%s not valid", r)
		}
	}
	if sluice.TriggerRule("all_sucess").Valid() {
		t.Error("a misspelt rule is valid")
	}
}

// TestAllowedFailure checks the rule for an upstream task that allows
// failure (allow_failure: true) and failed: one_failed and all_failed
// decide as if it failed, every other rule as if it succeeded, for every
// mix of two and three upstream states.
func TestAllowedFailure(t *testing.T) {
	t.Parallel()
	states := []string{"pending", "success", "failed", "upstream_failed", "skipped", "allowed"}
	// count is the upstream of list, the allowed failures counted as
	// allowedAs; "allowed-counter" counts them as such.
	count := func(list []string, allowedAs string) sluice.Upstream {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = s
			if s == "allowed" {
				out[i] = allowedAs
			}
		}
		return upstreamOf(out)
	}
	var mixes [][]string
	for _, a := range states {
		for _, b := range states {
			mixes = append(mixes, []string{a, b})
			for _, c := range states {
				mixes = append(mixes, []string{a, b, c})
			}
		}
	}
	checked := 0
	for _, mix := range mixes {
		if !strings.Contains(strings.Join(mix, " "), "allowed") {
			continue
		}
		checked++
		for _, rule := range sluice.TriggerRules {
			as := "success"
			if rule == sluice.OneFailed || rule == sluice.AllFailed {
				as = "failed"
			}
			got, want := rule.Decide(count(mix, "allowed-counter")), rule.Decide(count(mix, as))
			if got != want {
				t.Errorf("%s with upstream %v = %s, want %s (an allowed failure counts as %s)", rule, mix, got, want, as)
			}
		}
	}
	// The handler pattern: a task that allows failure failed; its
	// one_failed handler runs, and an all_success task after it runs too.
	u := sluice.Upstream{Total: 1, AllowedFailed: 1}
	if got := sluice.OneFailed.Decide(u); got != sluice.InstanceQueued {
		t.Errorf("one_failed after an allowed failure = %s, want queued", got)
	}
	if got := sluice.AllSuccess.Decide(u); got != sluice.InstanceQueued {
		t.Errorf("all_success after an allowed failure = %s, want queued", got)
	}
	if checked < 100 {
		t.Fatalf("only %d mixes checked", checked)
	}
}

// upstreamOf counts upstream states by name: pending, success, failed,
// upstream_failed, skipped, and allowed-counter for a failure the task
// allows.
func upstreamOf(states []string) sluice.Upstream {
	var u sluice.Upstream
	for _, s := range states {
		u.Total++
		switch s {
		case "success":
			u.Success++
		case "failed":
			u.Failed++
		case "upstream_failed":
			u.UpstreamFailed++
		case "skipped":
			u.Skipped++
		case "allowed-counter":
			u.AllowedFailed++
		}
	}
	return u
}
