package worker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/internal/enginetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// startContainer starts a container that sleeps, labelled as a sluice
// attempt's, as a worker would, and returns its id; the test ends it.
func startContainer(t *testing.T, e *docker.Engine, labels map[string]string) string {
	t.Helper()
	labels["dev.sluice.test"] = t.Name()
	ids := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		started := false
		res := e.Run(ctx, &docker.Request{Image: enginetest.Image(), Pull: docker.PullNever, Cmd: []string{"sleep", "600"},
			Labels: labels, KillGrace: time.Second, Started: func(id string) { started = true; ids <- id }})
		if !started {
			t.Errorf("container did not start: %s", res.Error)
			ids <- ""
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	id := <-ids
	if id == "" {
		t.FailNow()
	}
	return id
}

func containerIDs(t *testing.T, e *docker.Engine) map[string]bool {
	t.Helper()
	list, err := e.Containers(context.Background(), "dev.sluice.test")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range list {
		if c.Labels["dev.sluice.test"] == t.Name() {
			ids[c.ID] = true
		}
	}
	return ids
}

// A worker removes the containers whose attempts are over, keeps those of
// attempts another worker holds, and advertises the label container.
func TestWorkerSweepsContainersLeftBehind(t *testing.T) {
	host := enginetest.Require(t)
	t.Parallel()
	b := setup(t)
	e, err := docker.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	// An attempt another worker holds, with a lease that outlives the test.
	run := b.trigger("id: held\ntasks:\n  t: {run: 'true'}\n")
	claims, err := b.st.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "other", Limit: 1, LeaseDuration: time.Hour})
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v, %d claims", err, len(claims))
	}
	c := claims[0]
	held := startContainer(t, e, map[string]string{
		"dev.sluice.attempt": strconv.FormatInt(c.AttemptID, 10), "dev.sluice.run": strconv.FormatInt(run.ID, 10),
		"dev.sluice.lease": strconv.FormatInt(c.Token, 10), "dev.sluice.worker": "other",
	})
	// An attempt that does not exist (its run was pruned, or never was).
	gone := startContainer(t, e, map[string]string{
		"dev.sluice.attempt": "987654321", "dev.sluice.run": "987654321", "dev.sluice.worker": "dead",
	})

	b.start(worker.Config{ContainerHost: host, Lease: 3 * time.Second, KillGrace: time.Second})
	b.waitFor("the worker to remove the container of an attempt that is over", func() bool {
		return !containerIDs(t, e)[gone]
	})
	if !containerIDs(t, e)[held] {
		t.Errorf("the container of an attempt another worker holds was removed")
	}
	b.waitFor("the worker to advertise the label container", func() bool {
		ws, err := b.st.WorkerList(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			for _, l := range w.Labels {
				if l == "container" {
					return true
				}
			}
		}
		return false
	})

	// Its lease taken away, the held attempt is over too.
	if err := b.st.RunCancel(b.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the worker to remove the container of a cancelled attempt", func() bool {
		return !containerIDs(t, e)[held]
	})
}

// A worker whose engine does not answer runs as before, without the
// label container.
func TestWorkerWithoutEngine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(worker.Config{ContainerHost: "unix:///nonexistent/docker.sock"})
	b.waitFor("the worker to register", func() bool {
		ws, err := b.st.WorkerList(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 1 {
			return false
		}
		for _, l := range ws[0].Labels {
			if l == "container" {
				t.Fatalf("labels %v", ws[0].Labels)
			}
		}
		return true
	})
}
