package capacity

import (
	"time"

	"github.com/sluice-dev/sluice/pipeline"
)

// intervalFires is how many consecutive fire times Interval compares.
const intervalFires = 12

// Interval is the shortest gap between consecutive fire times of a
// schedule (cron or descriptor) over its next few fires after from: a run
// that takes longer than this overlaps the next one, or delays it under
// max_active_runs. "@every 90m" is 90m; "0 3 * * 1-5" is 24h. Fire times
// are taken in UTC, so a daylight-saving day does not shorten it.
func Interval(schedule string, from time.Time) (time.Duration, error) {
	s, err := pipeline.ParseSchedule(schedule)
	if err != nil {
		return 0, err
	}
	prev := s.Next(from.UTC())
	var shortest time.Duration
	for i := 0; i < intervalFires && !prev.IsZero(); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(prev); shortest == 0 || gap < shortest {
			shortest = gap
		}
		prev = next
	}
	return shortest, nil
}
