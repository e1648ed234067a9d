package worker

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// heartbeat extends the leases of every held attempt each Lease/3, and
// stops the attempts whose leases were taken over or taken away. While the database is
// unreachable the attempts keep running: their leases stay valid until they
// expire, and an outage shorter than that costs nothing.
//
// Leases taken away by hand (a cancelled run, a task marked or cleared)
// are checked at once, not at the next beat: taken is the first wake-up,
// armed by the caller before any attempt starts (this goroutine may be
// scheduled only later), and each next one is armed before a check reads
// the leases, so a wake-up that comes during a check brings another.
func (w *Worker) heartbeat(ctx context.Context, taken <-chan struct{}) {
	every := w.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-taken:
		}
		taken = w.st.Wait(store.TopicLeases)
		w.announce(ctx)
		w.mu.Lock()
		held := make(map[int64]*attempt, len(w.running))
		leases := make([]store.Lease, 0, len(w.running))
		for id, a := range w.running {
			held[id] = a
			leases = append(leases, a.claim.Lease)
		}
		w.mu.Unlock()
		if len(leases) == 0 {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, every)
		lost, err := w.st.AttemptHeartbeat(hctx, &store.AttemptHeartbeatParams{Leases: leases, LeaseDuration: w.cfg.Lease})
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.health.Observe(err)
		for _, l := range lost {
			if a := held[l.AttemptID]; a != nil {
				w.lost(a)
			}
		}
	}
}
