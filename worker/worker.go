// Package worker claims ready task instances, runs them, keeps their leases
// alive, and records their outcomes, fenced by each attempt's lease token.
//
// A worker keeps nothing that is not in the database: kill it at any moment
// and its leases expire, a scheduler requeues the attempts as lost, and
// another worker runs them again.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/versions"
)

// Config configures a Worker. Zero values take the documented defaults.
type Config struct {
	Store store.Store
	// Versions is the cache of decoded versions, shared with the other
	// roles of the process (sluice server passes the scheduler's); nil
	// makes one for this worker.
	Versions *versions.Cache
	// Metrics records attempts; nil records nothing.
	Metrics *metrics.Metrics
	// ID names the worker in attempts and logs; default host:pid:random.
	ID string
	// Concurrency is the number of attempts run at once; default 16.
	Concurrency int
	// Lease is how long a claim lasts without a heartbeat; default 30s.
	// Heartbeats go every Lease/3.
	Lease time.Duration
	// Poll is the longest the worker waits for work without a wake-up;
	// default 1s.
	Poll time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL when a task is
	// stopped; default 10s.
	KillGrace time.Duration
	// DrainTimeout is how long a stopping worker lets running attempts
	// finish before it stops them and hands their leases back; default 30s.
	DrainTimeout time.Duration
	// MaxOutput bounds the size of one task output; default 64 KiB.
	MaxOutput int
	// Labels are this worker's labels: it runs only tasks whose required
	// labels it has.
	Labels []string
	// ContainerHost is the address of the container engine (Docker or
	// Podman's Docker-compatible service) for container tasks:
	// unix:///PATH or tcp://HOST:PORT. Empty or "none" means none; a
	// worker that reaches its engine at start advertises the label
	// "container" and removes the containers killed workers left behind.
	ContainerHost string
	// Kubeconfig is the kubeconfig file of the Kubernetes cluster that
	// runs Kubernetes pod tasks. Empty tries the in-cluster service
	// account, $KUBECONFIG and ~/.kube/config; "none" means no cluster. A
	// worker that reaches its cluster at start advertises the label
	// "kubernetes" and deletes the Pods killed workers left behind.
	Kubeconfig string
	// KubeNamespace is where Pods run when a task names no namespace;
	// empty means the kubeconfig's, else "default".
	KubeNamespace string
	// KubeTransport, if set, wraps the HTTP transport of the worker's
	// requests to the Kubernetes API server; for benchmarks that count
	// them.
	KubeTransport func(http.RoundTripper) http.RoundTripper
	// Secrets opens secret values for tasks that declare them; nil when
	// this worker has no key.
	Secrets *secret.Box
	Logger  *slog.Logger
	// OnAttempt, if set, is called after each attempt is recorded; for
	// tests and the terminal view.
	OnAttempt func(c *store.Claim, state sluice.AttemptState)
}

// Worker runs task instances. Create it with New and start it with Run.
type Worker struct {
	cfg       Config
	st        store.Store
	log       *slog.Logger
	health    *store.Health
	versions  *versions.Cache
	tmpDir    string
	completer *completer
	logs      *logBatcher
	clock     sluice.Clock

	problems []string // what the environment check found at start; under mu
	draining bool
	// labels are Config.Labels, "container" when engine is set and
	// "kubernetes" when kube is; all
	// are set before Run starts anything.
	labels []string
	engine *docker.Engine
	kube   *kube.Client

	mu      sync.Mutex
	running map[int64]*attempt // by attempt id
	slots   chan struct{}      // one token per free slot
	freed   chan struct{}      // signalled when a slot frees
	kill    context.CancelCauseFunc
	killCtx context.Context
	// runCtx is Run's context, set before Run starts anything: once it
	// ends, the worker claims nothing more, also along with completions.
	runCtx context.Context
}

// New returns a Worker for cfg.
func New(cfg Config) (*Worker, error) {
	if cfg.Store == nil {
		return nil, errors.New("worker: no store")
	}
	if cfg.Versions == nil {
		cfg.Versions = versions.New(cfg.Store)
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s:%d:%04x", host, os.Getpid(), randUint16())
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("worker", cfg.ID)
	w := &Worker{
		cfg:      cfg,
		st:       cfg.Store,
		log:      log,
		health:   store.NewHealth(log, "worker"),
		versions: cfg.Versions,
		running:  map[int64]*attempt{},
		labels:   append([]string(nil), cfg.Labels...),
		slots:    make(chan struct{}, cfg.Concurrency),
		freed:    make(chan struct{}, 1),
	}
	for i := 0; i < cfg.Concurrency; i++ {
		w.slots <- struct{}{}
	}
	w.clock = sluice.SystemClock
	if c, ok := cfg.Store.(store.Clocked); ok {
		w.clock = c.Clock()
	}
	w.killCtx, w.kill = context.WithCancelCause(context.Background())
	w.completer = newCompleter(w)
	w.logs = &logBatcher{w: w}
	return w, nil
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

// errDraining stops attempts whose leases a draining worker hands back.
var errDraining = errors.New("worker draining: lease handed back")

// errKilled stops attempts when the worker must stop at once.
var errKilled = errors.New("worker stopped")

// Kill ends a drain at once: running attempts are stopped and handed back.
func (w *Worker) Kill() { w.kill(errKilled) }

// Run claims and runs attempts until ctx ends, then drains: it claims no
// more, lets running attempts finish for up to DrainTimeout (or until Kill),
// then stops the rest and hands their leases back so another worker takes
// them at once. Run returns when nothing is left running.
func (w *Worker) Run(ctx context.Context) error {
	// The scripts and output files of attempts go in a folder of the
	// run's own, made here rather than in New so that a worker made and
	// never run leaves nothing behind.
	removeStaleTmp(os.TempDir())
	tmp, err := os.MkdirTemp("", tmpPrefix+tmpOwner(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("worker: temp dir: %w", err)
	}
	w.tmpDir = tmp
	w.runCtx = ctx
	defer os.RemoveAll(tmp)
	w.connectEngine(ctx)
	if w.engine != nil {
		defer w.engine.Close()
	}
	w.connectKube(ctx)
	if w.kube != nil {
		defer w.kube.Close()
	}
	completerDone := make(chan struct{})
	go func() { w.completer.run(w.killCtx); close(completerDone) }()
	hbCtx, stopHB := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	taken := w.st.Wait(store.TopicLeases)
	go func() { w.heartbeat(hbCtx, taken); close(hbDone) }()

	w.register(ctx)
	defer func() {
		if err := w.st.WorkerRemove(context.Background(), w.cfg.ID); err != nil {
			w.log.Warn("could not deregister; the worker will expire", "err", err)
		}
	}()
	cbCtx, stopCB := context.WithCancel(context.Background())
	cbDone := make(chan struct{})
	go func() { w.callbacks(cbCtx); close(cbDone) }()

	sweepDone := make(chan struct{})
	go func() { w.sweepContainers(cbCtx, w.cfg.Lease/3); close(sweepDone) }()
	podSweepDone := make(chan struct{})
	go func() { w.sweepPods(cbCtx, w.cfg.Lease/3); close(podSweepDone) }()

	w.claimLoop(ctx)
	stopCB()
	<-cbDone
	<-sweepDone
	<-podSweepDone

	w.drain()
	stopHB()
	<-hbDone
	w.completer.close()
	<-completerDone
	return nil
}

// tmpPrefix begins the name of a worker's temp folder, followed by its
// owner (tmpOwner) and a dash.
const tmpPrefix = "sluice-worker-"

// pidNamespace names this process's PID namespace (Linux), "" when
// unknown: a process id means something only within its namespace, and
// containers that share a /tmp may each have their own.
var pidNamespace = func() string {
	link, err := os.Readlink("/proc/self/ns/pid") // pid:[4026531836]
	if err != nil {
		return ""
	}
	n := strings.TrimSuffix(strings.TrimPrefix(link, "pid:["), "]")
	if _, err := strconv.ParseUint(n, 10, 64); err != nil {
		return ""
	}
	return n
}()

// tmpOwner is the owner part of the temp folder name of the worker in
// process pid: its PID namespace and pid, "ns.pid".
func tmpOwner(pid int) string {
	ns := pidNamespace
	if ns == "" {
		ns = "x"
	}
	return ns + "." + strconv.Itoa(pid)
}

// removeStaleTmp removes the temp folders in dir of workers whose process
// is gone: a worker killed (SIGKILL, a crash, the machine's OOM killer)
// cannot remove its own. Only folders of this PID namespace are looked
// at; a folder whose process lives, or whose name says no owner, is left
// alone.
func removeStaleTmp(dir string) {
	if pidNamespace == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), tmpPrefix+pidNamespace+".")
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // alive, or another user's
		}
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

func (w *Worker) claimLoop(ctx context.Context) {
	failures := 0
	for {
		// Take every free slot before claiming, so the claim asks for
		// exactly as many instances as can start.
		free := w.takeSlots(ctx)
		if free == 0 {
			return // ctx ended
		}
		wake := w.st.Wait(store.TopicReady)
		// The claim is not cut short by the drain signal: a claim the
		// database committed while its answer was being cancelled would
		// leave attempts running under this worker's name that it never
		// started, until their leases expired. A lease bounds it instead.
		claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Lease)
		claims, err := w.st.InstanceClaim(claimCtx, w.claimParams(free))
		cancel()
		if err != nil && ctx.Err() != nil {
			w.giveSlots(free)
			return
		}
		w.health.Observe(err)
		if err != nil {
			w.giveSlots(free)
			failures++
			if !sleepCtx(ctx, store.Backoff(failures, 5*time.Second)) {
				return
			}
			continue
		}
		failures = 0
		w.startClaims(claims, free, false)
		if len(claims) == free {
			// Maybe more work waiting. Let the attempts just started run
			// first: quick ones give their slots back at once, and the
			// next claim asks for all of them in one round trip instead
			// of for the few that were back already.
			runtime.Gosched()
			continue
		}
		timer := time.NewTimer(w.cfg.Poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// startClaims starts the attempts of claims, made with free slots taken,
// and gives back the slots they did not fill. With keep it returns the
// first attempt unstarted, for the caller to run, and starts the rest.
// Once the worker drains it hands the leases of claims back instead of
// starting them.
func (w *Worker) startClaims(claims []*store.Claim, free int, keep bool) *attempt {
	var (
		back []store.Lease
		kept *attempt
	)
	for _, c := range claims {
		a := w.begin(c)
		if a == nil {
			back = append(back, c.Lease)
			continue
		}
		w.cfg.Metrics.AttemptStarted(c.Pool, c.StartedAt.Sub(c.ReadyAt))
		if keep && kept == nil {
			kept = a
			continue
		}
		go w.execute(a)
	}
	w.giveSlots(free - len(claims) + len(back))
	if len(back) == 0 {
		return kept
	}
	if err := w.st.AttemptHandBack(context.Background(), back); err != nil {
		w.log.Warn("could not hand back leases claimed as the worker began to drain; they will expire instead", "attempts", len(back), "err", err)
	}
	return kept
}

// claimParams are the arguments of a claim of up to free instances.
func (w *Worker) claimParams(free int) *store.InstanceClaimParams {
	return &store.InstanceClaimParams{Worker: w.cfg.ID, Labels: w.labels, Limit: free, LeaseDuration: w.cfg.Lease}
}

// claimAlong returns the claim to make with completions
// (store.AttemptCompleteClaim), nil once the worker claims no more, and
// where the number of slots its Slots took will be.
func (w *Worker) claimAlong() (*store.ClaimAlong, *int) {
	free := new(int)
	if w.runCtx == nil || w.runCtx.Err() != nil {
		return nil, free
	}
	return &store.ClaimAlong{InstanceClaimParams: *w.claimParams(0), Slots: func() int {
		if w.runCtx.Err() != nil {
			return 0
		}
		for {
			select {
			case <-w.slots:
				*free++
				continue
			default:
			}
			return *free
		}
	}}, free
}

// takeSlots waits for at least one free slot and takes all free slots.
func (w *Worker) takeSlots(ctx context.Context) int {
	select {
	case <-ctx.Done():
		return 0
	case <-w.slots:
	}
	n := 1
	for {
		select {
		case <-w.slots:
			n++
		default:
			return n
		}
	}
}

func (w *Worker) giveSlots(n int) {
	for i := 0; i < n; i++ {
		w.slots <- struct{}{}
	}
}

// drain waits for running attempts up to the drain timeout, then stops
// the rest and hands their leases back.
func (w *Worker) drain() {
	w.mu.Lock()
	n := len(w.running)
	w.draining = true
	w.mu.Unlock()
	w.announce(context.Background())
	if n > 0 {
		w.log.Info("draining: waiting for running attempts", "running", n, "timeout", w.cfg.DrainTimeout.String())
	}
	timer := time.NewTimer(w.cfg.DrainTimeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		n = len(w.running)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-w.freed:
			continue
		case <-timer.C:
			w.stopAll(errDraining)
			w.log.Info("drain timeout: handing leases back", "running", n)
		case <-w.killCtx.Done():
			w.stopAll(errDraining)
		}
		w.waitAll()
		return
	}
}

func (w *Worker) stopAll(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.running {
		a.cancel(cause)
	}
}

func (w *Worker) waitAll() {
	for {
		w.mu.Lock()
		n := len(w.running)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		<-w.freed
	}
}

// Running returns how many attempts are running.
func (w *Worker) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
