package sluice

import "time"

// RetryPolicy says whether and when a failed task instance runs again.
type RetryPolicy struct {
	// Retries is how many failed attempts are retried; 0 means none.
	Retries int
	// Delay is the wait before the first retry.
	Delay time.Duration
	// Exponential doubles the delay for every further retry, with jitter.
	Exponential bool
	// MaxDelay caps the delay; 0 means no cap.
	MaxDelay time.Duration
}

// Next decides what follows the failures-th failed attempt of an instance
// (failures counts the one that just failed). It reports whether to retry
// and after how long. jitter is a number in [0, 1) from the caller's random
// source; exponential delays are spread over [d/2, d] so that instances that
// failed together do not retry together, and never exceed MaxDelay.
func (p RetryPolicy) Next(failures int, jitter float64) (retry bool, delay time.Duration) {
	if failures > p.Retries {
		return false, 0
	}
	d := p.Delay
	if p.Exponential {
		for i := 1; i < failures; i++ {
			d *= 2
			if p.MaxDelay > 0 && d >= p.MaxDelay || d <= 0 || d > 100*365*24*time.Hour {
				break
			}
		}
		if p.MaxDelay > 0 && d > p.MaxDelay {
			d = p.MaxDelay
		}
		d = d/2 + time.Duration(jitter*float64(d/2))
	} else if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	if d < 0 {
		d = 0
	}
	return true, d
}
