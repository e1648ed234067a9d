package worker_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/internal/enginetest"
	"github.com/sluice-dev/sluice/secret"
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
	// An attempt that ended (its worker was killed and its lease reaped).
	run2 := b.trigger("id: ended\ntasks:\n  t: {run: 'true'}\n")
	claims2, err := b.st.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "dead", Limit: 1, LeaseDuration: time.Millisecond})
	if err != nil || len(claims2) != 1 {
		t.Fatalf("claim: %v, %d claims", err, len(claims2))
	}
	time.Sleep(10 * time.Millisecond) // past the lease
	if _, err := b.st.AttemptReap(b.ctx, &store.AttemptReapParams{Reason: "worker died", ExpiredBefore: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c2 := claims2[0]
	gone := startContainer(t, e, map[string]string{
		"dev.sluice.attempt": strconv.FormatInt(c2.AttemptID, 10), "dev.sluice.run": strconv.FormatInt(run2.ID, 10),
		"dev.sluice.lease": strconv.FormatInt(c2.Token, 10), "dev.sluice.worker": "dead",
	})
	// Another installation's attempt on the same engine: the same ids,
	// another token.
	foreign := startContainer(t, e, map[string]string{
		"dev.sluice.attempt": strconv.FormatInt(c2.AttemptID, 10), "dev.sluice.run": strconv.FormatInt(run2.ID, 10),
		"dev.sluice.lease": strconv.FormatInt(c2.Token+1, 10), "dev.sluice.worker": "dead",
	})

	b.start(worker.Config{ContainerHost: host, Lease: 3 * time.Second, KillGrace: time.Second})
	b.waitFor("the worker to remove the container of an attempt that is over", func() bool {
		return !containerIDs(t, e)[gone]
	})
	if ids := containerIDs(t, e); !ids[held] || !ids[foreign] {
		t.Errorf("removed the container of an attempt another worker holds (%v) or of another installation (%v)", !ids[held], !ids[foreign])
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

// ctrBundle is a testBundle with an engine, for container tasks.
type ctrBundle struct {
	*testBundle
	host   string
	engine *docker.Engine
	box    *secret.Box
}

func setupContainers(t *testing.T) *ctrBundle {
	t.Helper()
	host := enginetest.Require(t)
	t.Parallel()
	e, err := docker.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	box, err := secret.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &ctrBundle{testBundle: setup(t), host: host, engine: e, box: box}
}

// pipelineSrc fills IMAGE in src with the test image.
func pipelineSrc(src string) string {
	return strings.ReplaceAll(src, "IMAGE", enginetest.Image())
}

// containersOf returns the containers of a pipeline's attempts.
func (b *ctrBundle) containersOf(pipelineID string) []docker.Container {
	b.t.Helper()
	list, err := b.engine.Containers(context.Background(), "dev.sluice.attempt")
	if err != nil {
		b.t.Fatal(err)
	}
	var out []docker.Container
	for _, c := range list {
		if c.Labels["dev.sluice.pipeline"] == pipelineID {
			out = append(out, c)
		}
	}
	return out
}

func (b *ctrBundle) waitNoContainer(pipelineID string) {
	b.t.Helper()
	b.waitFor("the containers of "+pipelineID+" to be removed", func() bool { return len(b.containersOf(pipelineID)) == 0 })
}

func (b *ctrBundle) waitContainer(pipelineID string) {
	b.t.Helper()
	b.waitFor("a container of "+pipelineID+" to run", func() bool {
		for _, c := range b.containersOf(pipelineID) {
			if c.Running {
				return true
			}
		}
		return false
	})
}

// Outputs pass from a shell task into a container and back; a container
// that exits non-zero fails its attempt with the code, and is retried; its
// stderr is marked and its secret masked; no container is left.
func TestContainerTaskEndToEnd(t *testing.T) {
	b := setupContainers(t)
	if err := b.st.SecretSet(b.ctx, "DB_PASSWORD", b.box.Seal("DB_PASSWORD", []byte("hunter2-s3cret"))); err != nil {
		t.Fatal(err)
	}
	run := b.trigger(pipelineSrc(`id: ctr_e2e
tasks:
  make:
    run: echo "greeting=hello from the shell" >> "$SLUICE_OUTPUT"
  inside:
    depends_on: [make]
    retries: 1
    retry_delay: 1s
    secrets: [DB_PASSWORD]
    env: {WHERE: "${{ tasks.make.outputs.greeting }}"}
    container: {image: IMAGE, pull: never, network: none}
    run: |
      echo "got $SLUICE_OUTPUT_MAKE_GREETING ($WHERE); password $DB_PASSWORD; attempt $SLUICE_ATTEMPT"
      test "$SLUICE_ATTEMPT" -ge 2 || { echo "first try fails" >&2; exit 3; }
      echo "reply=hello from the container" >> "$SLUICE_OUTPUT"
  back:
    depends_on: [inside]
    run: test "$SLUICE_OUTPUT_INSIDE_REPLY" = "hello from the container"
`))
	b.start(worker.Config{ContainerHost: b.host, Secrets: b.box, KillGrace: time.Second})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %v; inside: %+v", s, b.instances(run.ID), b.attempts(run.ID, "inside"))
	}
	atts := b.attempts(run.ID, "inside")
	if len(atts) != 2 || atts[0].State != sluice.AttemptFailed || atts[0].Error != "exited with code 3" ||
		atts[0].ExitCode == nil || *atts[0].ExitCode != 3 || atts[1].State != sluice.AttemptSuccess {
		t.Fatalf("attempts of inside: %+v", atts)
	}
	// Each attempt records the image it ran and its own container.
	for _, a := range atts {
		if a.Image != enginetest.Image() || len(a.ContainerID) < 12 {
			t.Fatalf("attempt %d: image %q, container %q", a.Number, a.Image, a.ContainerID)
		}
	}
	if atts[0].ContainerID == atts[1].ContainerID {
		t.Fatalf("both attempts name container %s", atts[0].ContainerID)
	}
	if shell := b.attempts(run.ID, "make"); len(shell) != 1 || shell[0].Image != "" || shell[0].ContainerID != "" {
		t.Fatalf("a shell task's attempt has a container: %+v", shell)
	}
	log := b.log(run.ID, "inside")
	for _, want := range []string{
		" o got hello from the shell (hello from the shell); password ***; attempt 1\n",
		" e first try fails\n",
		" o got hello from the shell (hello from the shell); password ***; attempt 2\n",
		" s starting container ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "hunter2") {
		t.Errorf("secret in the log:\n%s", log)
	}
	b.waitNoContainer("ctr_e2e")
}

// A timeout stops the container (a shell as PID 1 ignores SIGTERM, so it
// is killed after the grace) and the attempt is timed_out.
func TestContainerTaskTimeout(t *testing.T) {
	b := setupContainers(t)
	run := b.trigger(pipelineSrc(`id: ctr_timeout
tasks:
  slow:
    timeout: 1s
    container: {image: IMAGE, pull: never}
    run: sleep 60
`))
	b.start(worker.Config{ContainerHost: b.host, KillGrace: time.Second})
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	atts := b.attempts(run.ID, "slow")
	if len(atts) != 1 || atts[0].State != sluice.AttemptTimedOut || !strings.Contains(atts[0].Error, "timed out after 1s: stopped its container, then killed it after 1s") {
		t.Fatalf("attempt: %+v", atts[0])
	}
	b.waitNoContainer("ctr_timeout")
}

// Cancelling the run stops the container at once.
func TestContainerTaskCancel(t *testing.T) {
	b := setupContainers(t)
	run := b.trigger(pipelineSrc(`id: ctr_cancel
tasks:
  long:
    container: {image: IMAGE, pull: never}
    run: sleep 60
`))
	b.start(worker.Config{ContainerHost: b.host, Lease: time.Hour, KillGrace: time.Second})
	b.waitContainer("ctr_cancel")
	if err := b.st.RunCancel(b.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	b.waitNoContainer("ctr_cancel")
	if atts := b.attempts(run.ID, "long"); atts[0].State != sluice.AttemptCancelled {
		t.Fatalf("attempt = %+v", atts[0])
	}
}

// A worker that loses its lease stops the container and writes nothing.
func TestContainerTaskLostLease(t *testing.T) {
	b := setupContainers(t)
	run := b.trigger(pipelineSrc(`id: ctr_lost
tasks:
  long:
    retries: 1
    retry_delay: 1h
    container: {image: IMAGE, pull: never}
    run: sleep 60
`))
	b.start(worker.Config{ContainerHost: b.host, Lease: 300 * time.Millisecond, KillGrace: time.Second})
	b.waitContainer("ctr_lost")
	if _, err := b.st.AttemptReap(b.ctx, &store.AttemptReapParams{Reason: "taken over by the test"}); err != nil {
		t.Fatal(err)
	}
	b.waitNoContainer("ctr_lost")
	atts := b.attempts(run.ID, "long")
	if len(atts) != 1 || atts[0].State != sluice.AttemptLost || atts[0].Error != "taken over by the test" {
		t.Fatalf("the worker wrote after losing its lease: %+v", atts[0])
	}
}

// An image that cannot be had fails the attempt with the reason; the
// worker goes on.
func TestContainerTaskImageErrors(t *testing.T) {
	b := setupContainers(t)
	run := b.trigger(`id: ctr_images
tasks:
  absent:
    container: {image: "localhost/sluice-test:absent", pull: never}
  unpullable:
    container: {image: "127.0.0.1:9/sluice/absent:1"}
    run: "true"
  not_in_image:
    container: {image: "` + enginetest.Image() + `", pull: never}
    command: [/no/such/program]
`)
	b.start(worker.Config{ContainerHost: b.host})
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	for task, want := range map[string]string{
		"absent":       "image localhost/sluice-test:absent is not on the container engine and pull is never",
		"unpullable":   "cannot pull image 127.0.0.1:9/sluice/absent:1: ",
		"not_in_image": "/no/such/program",
	} {
		atts := b.attempts(run.ID, task)
		if len(atts) != 1 || atts[0].State != sluice.AttemptFailed || !strings.Contains(atts[0].Error, want) {
			t.Errorf("%s: %+v; want failed with %q", task, atts, want)
		}
	}
	b.waitNoContainer("ctr_images")
}

// Only a worker that reaches an engine claims a container task.
func TestContainerTaskNeedsAnEngine(t *testing.T) {
	b := setupContainers(t)
	run := b.trigger(pipelineSrc(`id: ctr_place
tasks:
  shell:
    run: "true"
  inside:
    container: {image: IMAGE, pull: never}
`))
	_, stop, done := b.start(worker.Config{ContainerHost: "none"})
	b.waitFor("the shell task", func() bool { return b.instances(run.ID)["shell"].State == sluice.InstanceSuccess })
	if in := b.instances(run.ID)["inside"]; in.State != sluice.InstanceQueued {
		t.Fatalf("inside = %s on a worker without an engine", in.State)
	}
	stop()
	<-done
	b.start(worker.Config{ContainerHost: b.host})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
}
