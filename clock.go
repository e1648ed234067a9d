package sluice

import "time"

// Clock tells the time. Components take a Clock so tests can control it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the Clock of the machine.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
