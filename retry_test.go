package sluice_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
)

func TestRetryPolicyNext(t *testing.T) {
	t.Parallel()
	fixed := sluice.RetryPolicy{Retries: 3, Delay: 30 * time.Second, MaxDelay: time.Hour}
	exp := sluice.RetryPolicy{Retries: 10, Delay: 10 * time.Second, Exponential: true, MaxDelay: time.Minute}
	tests := []struct {
		name      string
		policy    sluice.RetryPolicy
		failures  int
		jitter    float64
		wantRetry bool
		wantDelay time.Duration
	}{
		{"no retries configured", sluice.RetryPolicy{}, 1, 0, false, 0},
		{"fixed first", fixed, 1, 0.9, true, 30 * time.Second},
		{"fixed last allowed", fixed, 3, 0.5, true, 30 * time.Second},
		{"fixed exhausted", fixed, 4, 0, false, 0},
		{"fixed capped", sluice.RetryPolicy{Retries: 1, Delay: 2 * time.Hour, MaxDelay: time.Hour}, 1, 0, true, time.Hour},
		{"exponential 1, low jitter", exp, 1, 0, true, 5 * time.Second},
		{"exponential 1, high jitter", exp, 1, 0.999999, true, 10*time.Second - 10*time.Microsecond},
		{"exponential 2", exp, 2, 0, true, 10 * time.Second},
		{"exponential 3", exp, 3, 0, true, 20 * time.Second},
		{"exponential 4 hits the cap", exp, 4, 0, true, 30 * time.Second},
		{"exponential 9 stays capped", exp, 9, 0.5, true, 45 * time.Second},
		{"exponential huge count does not overflow", sluice.RetryPolicy{Retries: 1000, Delay: time.Second, Exponential: true}, 900, 0, true, 0},
		{"zero delay", sluice.RetryPolicy{Retries: 1}, 1, 0, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			retry, delay := tt.policy.Next(tt.failures, tt.jitter)
			if retry != tt.wantRetry {
				t.Fatalf("retry = %v, want %v", retry, tt.wantRetry)
			}
			if tt.name == "exponential huge count does not overflow" {
				if delay <= 0 {
					t.Fatalf("delay = %v, want positive", delay)
				}
				return
			}
			if diff := delay - tt.wantDelay; diff < -20*time.Microsecond || diff > 20*time.Microsecond {
				t.Fatalf("delay = %v, want %v", delay, tt.wantDelay)
			}
		})
	}
}
