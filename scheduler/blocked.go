package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// Workers are alive when seen within WorkerTTL, and forgotten after
// WorkerForget. Workers announce themselves with every heartbeat (a third
// of their lease, 10s by default).
const (
	WorkerTTL    = time.Minute
	WorkerForget = 10 * time.Minute
)

// waitBeforeBlocked is how long a ready instance waits before it is
// looked at. The reasons are about what exists (live workers, their
// labels, pools), not about waiting, so the delay only spares the check an
// instance that a worker is claiming right now; a user sees the reason
// about a second after the block (the scheduler's pass interval plus
// this).
const waitBeforeBlocked = 300 * time.Millisecond

// checkEvery spaces the checks of waiting instances (three reads) when
// passes come faster, as they do under load; pruneEvery spaces the
// pruning of forgotten workers (a write).
const (
	checkEvery = 500 * time.Millisecond
	pruneEvery = 30 * time.Second
)

// checkWaiting finds ready instances that nothing can start — no live
// worker, none with their labels, a pool that does not exist or is too
// small — records why, and fails those that waited past their
// queued_timeout. Waiting for a free slot of a pool that can hold the
// task is not being blocked.
func (s *Scheduler) checkWaiting(ctx context.Context, now time.Time) error {
	if now.Sub(s.lastPrune) >= pruneEvery {
		if _, err := s.st.WorkerPrune(ctx, now.Add(-WorkerForget)); err != nil {
			return err
		}
		s.lastPrune = now
	}
	waiting, err := s.st.InstanceListWaiting(ctx, now.Add(-waitBeforeBlocked), 1000)
	if err != nil || len(waiting) == 0 {
		return err
	}
	workers, err := s.st.WorkerList(ctx)
	if err != nil {
		return err
	}
	var alive []*store.WorkerInfo
	for _, w := range workers {
		if !w.Draining && now.Sub(w.LastSeenAt) <= WorkerTTL {
			alive = append(alive, w)
		}
	}
	pools, err := s.st.PoolList(ctx)
	if err != nil {
		return err
	}
	byName := map[string]*store.Pool{}
	for _, p := range pools {
		byName[p.Name] = p
	}
	set, fail := map[int64]string{}, map[int64]string{}
	for _, w := range waiting {
		reason := blockedReason(w, alive, byName)
		if reason != w.Blocked {
			set[w.ID] = reason
		}
		if reason != "" && now.Sub(w.ReadyAt) >= w.QueuedTimeout {
			fail[w.ID] = fmt.Sprintf("failed after waiting %s without anything able to run it: %s", now.Sub(w.ReadyAt).Round(time.Second), reason)
			s.log.Warn("task blocked past its queued_timeout; failing it", "pipeline", w.PipelineID, "run", w.RunID, "task", w.TaskID, "reason", reason)
		}
	}
	if err := s.st.InstanceSetBlocked(ctx, set); err != nil {
		return err
	}
	return s.st.InstanceFailBlocked(ctx, fail)
}

func blockedReason(w *store.WaitingInstance, alive []*store.WorkerInfo, pools map[string]*store.Pool) string {
	if len(alive) == 0 {
		return "no worker is alive to run it"
	}
	if len(w.Requires) > 0 {
		ok := false
		for _, wk := range alive {
			if hasAll(wk.Labels, w.Requires) {
				ok = true
				break
			}
		}
		if !ok {
			var have []string
			for _, wk := range alive {
				have = append(have, fmt.Sprintf("%s [%s]", wk.ID, strings.Join(wk.Labels, ",")))
			}
			sort.Strings(have)
			if len(have) > 5 {
				have = append(have[:5], "…")
			}
			reason := fmt.Sprintf("no live worker has the label(s) %s (live workers: %s)", strings.Join(w.Requires, ", "), strings.Join(have, "; "))
			if slices.Contains(w.Requires, pipeline.ContainerLabel) {
				// Nobody sets this label by hand: say how a worker gets it.
				reason += "; a container task runs only on a worker that reaches a container engine " +
					"(Docker or Podman) at its --container-host or $DOCKER_HOST, which then has the label container"
			}
			if slices.Contains(w.Requires, pipeline.KubernetesLabel) {
				reason += "; a Kubernetes pod task runs only on a worker that reaches a Kubernetes cluster " +
					"(--kubeconfig, $KUBECONFIG, ~/.kube/config or a Pod's service account), which then has the label kubernetes"
			}
			return reason
		}
	}
	if w.Pool != "" {
		p, ok := pools[w.Pool]
		switch {
		case !ok:
			return fmt.Sprintf("pool %s does not exist: create it with `sluice pools set %s SLOTS`", w.Pool, w.Pool)
		case p.Slots < w.PoolSlots:
			return fmt.Sprintf("pool %s has %d slot(s) and the task needs %d", w.Pool, p.Slots, w.PoolSlots)
		}
	}
	return ""
}

func hasAll(have, need []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, n := range need {
		if !set[n] {
			return false
		}
	}
	return true
}
