package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// claimCounter counts the instances claimed by InstanceClaim and along
// with completions, and how often each was claimed.
type claimCounter struct {
	store.Store
	mu           sync.Mutex
	looped, with int
	calls        int // of InstanceClaim
	seen         map[string]int
}

func (c *claimCounter) InstanceClaim(ctx context.Context, p *store.InstanceClaimParams) ([]*store.Claim, error) {
	cs, err := c.Store.InstanceClaim(ctx, p)
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	c.count(cs, &c.looped)
	return cs, err
}

func (c *claimCounter) AttemptCompleteClaim(ctx context.Context, ps []*store.AttemptCompleteParams, next *store.ClaimAlong) ([]error, []*store.Claim, error) {
	res, cs, err := c.Store.AttemptCompleteClaim(ctx, ps, next)
	c.count(cs, &c.with)
	return res, cs, err
}

func (c *claimCounter) count(cs []*store.Claim, n *int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range cs {
		*n++
		c.seen[cl.TaskID]++
	}
}

// TestChainClaimsAlong: a worker claims the next task of a chain in the
// transaction that completes the one before, and every task runs once;
// a completion whose readied task it claimed wakes no claim loop (the
// worker's polls every minute here, so every InstanceClaim after the
// first would have been woken).
func TestChainClaimsAlong(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: chain
tasks:
  t1: {run: "true"}
  t2: {run: "true", depends_on: [t1]}
  t3: {run: "true", depends_on: [t2]}
  t4: {run: "true", depends_on: [t3]}
  t5: {run: "true", depends_on: [t4]}
  t6: {run: "true", depends_on: [t5]}
`)
	counter := &claimCounter{Store: b.st, seen: map[string]int{}}
	b.st = counter
	b.start(worker.Config{Poll: time.Minute})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %s", s, b.describeInstances(run.ID))
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.looped+counter.with != 6 || len(counter.seen) != 6 {
		t.Fatalf("claims: %d by the claim loop, %d along, of tasks %v; want 6 tasks once each", counter.looped, counter.with, counter.seen)
	}
	if counter.with == 0 {
		t.Fatal("no task of the chain was claimed along with its upstream's completion")
	}
	if counter.calls > 1+counter.looped {
		t.Fatalf("the claim loop claimed %d times for %d tasks: completions whose next task was claimed along woke it", counter.calls, counter.looped)
	}
}

// TestDrainClaimsNothingAlong: a draining worker lets its running task
// finish but claims nothing more, not even the downstream task that the
// completion readies.
func TestDrainClaimsNothingAlong(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: drainchain
tasks:
  first:
    run: touch started; sleep 0.5
  second:
    run: "true"
    depends_on: [first]
`)
	_, stop, done := b.start(worker.Config{DrainTimeout: 20 * time.Second})
	b.waitStarted()
	stop()
	<-done
	in := b.instances(run.ID)
	if in["first"].State != sluice.InstanceSuccess || in["second"].State != sluice.InstanceQueued || in["second"].Attempts != 0 {
		t.Fatalf("after drain: %s; want first success and second queued, never tried", b.describeInstances(run.ID))
	}
}

// drainRace cancels the worker's Run as soon as a completion has taken
// slots to claim along, and lets the completion go on only once the
// worker announced that it drains.
type drainRace struct {
	store.Store
	once      sync.Once
	taken     chan struct{} // closed once Slots took the slots
	announced chan struct{} // closed once the worker said it drains
	said      sync.Once
}

func (d *drainRace) WorkerUpsert(ctx context.Context, info *store.WorkerInfo) error {
	if info.Draining {
		d.said.Do(func() { close(d.announced) })
	}
	return d.Store.WorkerUpsert(ctx, info)
}

func (d *drainRace) AttemptCompleteClaim(ctx context.Context, ps []*store.AttemptCompleteParams, next *store.ClaimAlong) ([]error, []*store.Claim, error) {
	if next != nil {
		slots := next.Slots
		along := *next
		along.Slots = func() int {
			n := slots()
			d.once.Do(func() {
				close(d.taken)
				<-d.announced
			})
			return n
		}
		next = &along
	}
	return d.Store.AttemptCompleteClaim(ctx, ps, next)
}

// TestDrainStartsNothingClaimedAlong: a completion that took its slots
// before the worker began to drain, and whose claim commits once it
// drains, does not leave an attempt running after Run returned: the
// drain saw the completed attempt go and nothing else running.
func TestDrainStartsNothingClaimedAlong(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: drainrace
tasks:
  first:
    run: "true"
  second:
    run: sleep 5
    depends_on: [first]
`)
	race := &drainRace{Store: b.st, taken: make(chan struct{}), announced: make(chan struct{})}
	b.st = race
	w, stop, done := b.start(worker.Config{DrainTimeout: 20 * time.Second})
	<-race.taken
	stop()
	<-done
	if n := w.Running(); n != 0 {
		t.Errorf("Run returned with %d attempts running", n)
	}
	in := b.instances(run.ID)
	if in["first"].State != sluice.InstanceSuccess || in["second"].State != sluice.InstanceQueued {
		t.Fatalf("after drain: %s; want first success and second queued", b.describeInstances(run.ID))
	}
}

// outage fails every completion, as a database that is down would.
type outage struct {
	store.Store
	once  sync.Once
	tried chan struct{} // closed at the first completion
}

func (o *outage) AttemptCompleteClaim(ctx context.Context, ps []*store.AttemptCompleteParams, next *store.ClaimAlong) ([]error, []*store.Claim, error) {
	o.once.Do(func() { close(o.tried) })
	return nil, nil, errors.New("database down")
}

// TestKillDuringOutage: a worker killed while its completions cannot be
// written gives them up (their leases expire) and Run returns; it waited
// for those attempts forever.
func TestKillDuringOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.trigger(`id: outage
tasks:
  only: {run: "true"}
`)
	down := &outage{Store: b.st, tried: make(chan struct{})}
	b.st = down
	// Not b.start: its cleanup would wait for Run too.
	w, err := worker.New(worker.Config{Store: down, DrainTimeout: time.Hour, Poll: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	<-down.tried
	stop()
	w.Kill()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang, not a measure
		t.Fatalf("Run did not return after Kill; %d attempts running", w.Running())
	}
}

// flaky fails the first failures completions, as a database that was
// down for a moment would, and counts the calls.
type flaky struct {
	store.Store
	mu       sync.Mutex
	failures int
	calls    int
}

func (f *flaky) AttemptCompleteClaim(ctx context.Context, ps []*store.AttemptCompleteParams, next *store.ClaimAlong) ([]error, []*store.Claim, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.failures
	f.mu.Unlock()
	if fail {
		return nil, nil, errors.New("database down")
	}
	return f.Store.AttemptCompleteClaim(ctx, ps, next)
}

// TestCompletionsOutlastAnOutage: a completion the attempt's own
// goroutine could not write (the store was down) is written by the
// completer once the store is back, and the chain goes on to its end
// with every task run once.
func TestCompletionsOutlastAnOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.trigger(`id: blip
tasks:
  t1: {run: "true"}
  t2: {run: "true", depends_on: [t1]}
  t3: {run: "true", depends_on: [t2]}
`)
	down := &flaky{Store: b.st, failures: 3}
	b.st = down
	b.start(worker.Config{})
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %s", s, b.describeInstances(run.ID))
	}
	for _, task := range []string{"t1", "t2", "t3"} {
		if n := len(b.attempts(run.ID, task)); n != 1 {
			t.Errorf("task %s ran %d times, want once", task, n)
		}
	}
	down.mu.Lock()
	defer down.mu.Unlock()
	if down.calls < 3+3 {
		t.Fatalf("%d completion calls for 3 failures and 3 tasks", down.calls)
	}
}
