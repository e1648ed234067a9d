package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/kube/k8sapi"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// KubeOptions configure the k8s-fanout scenario.
type KubeOptions struct {
	// Tasks is N, the Kubernetes pod tasks of the pipeline; default 200.
	Tasks int
	// Concurrency is the worker's slot count; default
	// DefaultKubeConcurrency. An attempt holds its slot while its Pod
	// runs, so slots bound the Pods in flight.
	Concurrency int
	// Kubeconfig is the cluster's kubeconfig; empty tries $KUBECONFIG and
	// ~/.kube/config.
	Kubeconfig string
	// Namespace is where the Pods run; created when missing; default
	// "sluice-bench".
	Namespace string
	// Node is the node the Pods are placed on (by kubernetes.io/hostname);
	// default "kwok-node-0", the test cluster's kwok node, whose Pods
	// succeed 2 s after they run.
	Node string
	// Image is the Pods' image; default "localhost/busybox:1" (kwok runs
	// nothing, so any name does).
	Image string
	// Sync is the SQLite durability; default normal.
	Sync string
}

// DefaultKubeConcurrency is the k8s-fanout worker's default slot count.
// An attempt holds its slot for its Pod's whole life: on kwok about 2.7 s
// from create to delete (2 s of them Running), so a worker needs about
// 2.7 slots per pod a second it is to sustain, and more while the cluster
// is slow to move Pods along. The test cluster's kwok node holds 2,000
// Pods; measured on it, 200 slots gave 46-50 pods/s, 400 about the same,
// 100 slots about 29.
const DefaultKubeConcurrency = 200

// KubeResult holds the figures of the k8s-fanout scenario.
type KubeResult struct {
	Scenario    string `json:"scenario"`
	Store       string `json:"store"`
	Tasks       int    `json:"tasks"`
	Concurrency int    `json:"concurrency"`
	Node        string `json:"node"`
	Namespace   string `json:"namespace"`
	// WallSeconds is from the run's creation to its end (the store's
	// records).
	WallSeconds float64 `json:"wall_seconds"`
	// WindowSeconds is from the first Pod create the worker sent to the
	// last Pod delete the API server answered; the rates are over it.
	WindowSeconds float64 `json:"window_seconds"`
	// CreateSeconds is from the first Pod create sent to the last one
	// answered: how fast the worker starts Pods while slots are free.
	CreateSeconds   float64 `json:"create_seconds"`
	Created         int     `json:"pods_created"`
	Completed       int     `json:"pods_completed"`
	Cleaned         int     `json:"pods_cleaned"`
	CreatedPerSec   float64 `json:"created_per_sec"`
	CompletedPerSec float64 `json:"completed_per_sec"`
	CleanedPerSec   float64 `json:"cleaned_per_sec"`
	// Requests counts the worker's requests to the API server by what
	// they were ("create pods", "get pods/log", "watch pods", …), from
	// the worker's start to its stop.
	Requests map[string]int `json:"requests"`
	// PerTask is Requests grouped and divided by Tasks.
	PerTask KubePerTask `json:"per_task"`
	// LeakedPods and LeakedSecrets are the Pods and Secrets with the
	// label dev.sluice/attempt left in the namespace after the worker
	// stopped; anything but 0 is a failure.
	LeakedPods    int     `json:"leaked_pods"`
	LeakedSecrets int     `json:"leaked_secrets"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	// CPUSeconds is the process's CPU time (user and system) from the
	// worker's start to its stop: the worker and its store; CPUMsPerPod is
	// it per task.
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUMsPerPod float64 `json:"cpu_ms_per_pod"`
	CPUs        int     `json:"cpus"`
	GoVersion   string  `json:"go_version"`
	Date        string  `json:"date"`
}

// KubePerTask is the worker's API requests per task, by group.
type KubePerTask struct {
	// PodCreateDelete is creates and deletes of Pods.
	PodCreateDelete float64 `json:"pod_create_delete"`
	// Secrets is creates, deletes and lists of Secrets.
	Secrets float64 `json:"secrets"`
	// Logs is the log streams (excluded from BeyondLogs).
	Logs float64 `json:"logs"`
	// WatchList is the watch's lists and watches and the sweep's lists
	// of Pods.
	WatchList float64 `json:"watch_list"`
	// Other is every other request (gets of single Pods, /version).
	Other float64 `json:"other"`
	// BeyondLogs is every request but the log streams: the issue's
	// target is at most 5.
	BeyondLogs float64 `json:"beyond_logs"`
}

// KubeFanout runs the k8s-fanout scenario: one pipeline of N independent
// Kubernetes pod tasks on one node, run by one worker in this process on
// a temporary SQLite store. The worker's requests to the API server are
// counted by wrapping its HTTP transport, so other clients of the
// cluster (its scheduler, kwok, other tests) do not count.
func KubeFanout(ctx context.Context, o KubeOptions) (*KubeResult, error) {
	if o.Tasks <= 0 {
		o.Tasks = 200
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultKubeConcurrency
	}
	if o.Namespace == "" {
		o.Namespace = "sluice-bench"
	}
	if o.Node == "" {
		o.Node = "kwok-node-0"
	}
	if o.Image == "" {
		o.Image = "localhost/busybox:1"
	}
	cs, kubeconfig, err := benchClientset(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	taints, err := prepareNamespace(ctx, cs, o.Namespace, o.Node)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	p, src, err := kubeFanoutPipeline(o, taints)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, _, cleanup, err := openStore(ctx, Options{Sync: o.Sync}, dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := &KubeResult{Scenario: "k8s-fanout", Store: "sqlite", Tasks: o.Tasks, Concurrency: o.Concurrency, Node: o.Node, Namespace: o.Namespace,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), dir+"/bench.yaml"))
	if err != nil {
		return nil, err
	}

	cpuStart := cpuSeconds()
	counter := &requestCounter{counts: map[string]int{}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{Store: st, Concurrency: o.Concurrency, Logger: quiet, ID: "bench-0",
		ContainerHost: "none", Kubeconfig: kubeconfig, KubeNamespace: o.Namespace, KubeTransport: counter.wrap})
	if err != nil {
		return nil, err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); _ = w.Run(wctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopWorker()
			<-workerDone
		}
	}
	defer stop()
	if err := waitWorkers(ctx, st, 1); err != nil {
		return nil, err
	}
	ws, err := st.WorkerList(ctx)
	if err != nil {
		return nil, err
	}
	if len(ws) != 1 || !hasString(ws[0].Labels, pipeline.KubernetesLabel) {
		return nil, fmt.Errorf("the worker did not reach the cluster of %s (it has no %q label): is the API server up?", kubeconfig, pipeline.KubernetesLabel)
	}

	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: p.ID, VersionID: saved.VersionID, Key: "bench", Kind: store.RunManual, LogicalDate: time.Now()})
	if err != nil {
		return nil, err
	}
	// A Pod the cluster cannot place waits for as long as its task may:
	// give up after a generous time instead (the worker then deletes the
	// Pods it made).
	deadline := time.Now().Add(2*time.Minute + time.Duration(o.Tasks)*100*time.Millisecond)
	for {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the run did not finish by %s: are the pods scheduled on node %s? (look at them with kubectl -n %s get pods)",
				deadline.Format(time.TimeOnly), o.Node, o.Namespace)
		}
		wake := st.Wait(store.TopicRuns)
		r, err := st.RunGet(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		if r.State.Finished() {
			run = r
			break
		}
		select {
		case <-wake:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	atts, err := st.AttemptListByRun(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	var firstErr string
	for _, a := range atts {
		if a.TaskID == "join" {
			continue
		}
		if a.State == sluice.AttemptSuccess {
			res.Completed++
		} else if firstErr == "" {
			firstErr = fmt.Sprintf("task %s ended %s: %s", a.TaskID, a.State, a.Error)
		}
	}
	stop() // the worker's watch ends and is counted; nothing runs any more
	res.PeakRSSMB = peakRSSMB()
	res.CPUSeconds = cpuSeconds() - cpuStart
	res.CPUMsPerPod = 1000 * res.CPUSeconds / float64(o.Tasks)
	res.WallSeconds = run.FinishedAt.Sub(run.CreatedAt).Seconds()

	counter.mu.Lock()
	res.Requests = counter.counts
	res.Created, res.Cleaned = counter.created, counter.deleted
	if counter.created > 0 && counter.deleted > 0 {
		res.WindowSeconds = counter.lastDelete.Sub(counter.firstCreate).Seconds()
		res.CreateSeconds = counter.lastCreate.Sub(counter.firstCreate).Seconds()
	}
	counter.mu.Unlock()
	if res.WindowSeconds > 0 {
		res.CreatedPerSec = float64(res.Created) / res.WindowSeconds
		res.CompletedPerSec = float64(res.Completed) / res.WindowSeconds
		res.CleanedPerSec = float64(res.Cleaned) / res.WindowSeconds
	}
	res.PerTask = perTask(res.Requests, o.Tasks)

	res.LeakedPods, res.LeakedSecrets, err = cs.Labeled(ctx, o.Namespace, kube.LabelAttempt)
	if err != nil {
		return nil, fmt.Errorf("list pods and secrets left behind: %w", err)
	}
	if run.State != sluice.RunSuccess {
		return res, fmt.Errorf("benchmark run ended %s (%s)", run.State, firstErr)
	}
	if res.LeakedPods > 0 || res.LeakedSecrets > 0 {
		return res, fmt.Errorf("%d pods and %d secrets with label %s left in namespace %s", res.LeakedPods, res.LeakedSecrets, kube.LabelAttempt, o.Namespace)
	}
	return res, nil
}

// kubeFanoutPipeline builds the scenario's pipeline: the container-fanout
// file's N tasks and join, each container task made a Kubernetes pod task
// on the node, tolerating its taints (kwok's nodes have
// kwok.x-k8s.io/node=fake:NoSchedule). It builds the Kubernetes part in Go, so the scenario does
// not depend on the parser's kubernetes: key; src is the file without it.
func kubeFanoutPipeline(o KubeOptions, taints []k8sapi.Taint) (*pipeline.Pipeline, string, error) {
	src, err := Source("container-fanout", o.Tasks, o.Image)
	if err != nil {
		return nil, "", err
	}
	src = strings.Replace(src, "id: bench_container_fanout", "id: bench_k8s_fanout", 1)
	p, err := pipeline.Parse("k8s-fanout.yaml", []byte(src))
	if err != nil {
		return nil, "", fmt.Errorf("scenario pipeline: %w", err)
	}
	var tolerations []map[string]string
	for _, t := range taints {
		tolerations = append(tolerations, map[string]string{"key": t.Key, "operator": "Equal", "value": t.Value, "effect": t.Effect})
	}
	tolerate, err := json.Marshal(tolerations)
	if err != nil {
		return nil, "", err
	}
	for _, t := range p.Tasks {
		if t.Kind != pipeline.KindContainer {
			continue
		}
		t.Container.Pull = pipeline.PullNever
		t.Container.Kubernetes = &pipeline.Kubernetes{NodeSelector: map[string]string{"kubernetes.io/hostname": o.Node}}
		if len(tolerations) > 0 {
			t.Container.Kubernetes.Tolerations = tolerate
		}
		t.Requires = []string{pipeline.KubernetesLabel}
	}
	src = "# The container tasks below run as Kubernetes pods on node " + o.Node +
		" (set in Go by sluice bench k8s-fanout).\n" + src
	return p, src, nil
}

// benchClientset is the benchmark's own client of the cluster (for the
// namespace and the check for leftovers; its requests are not counted),
// and the kubeconfig path the worker gets.
func benchClientset(path string) (*kube.Client, string, error) {
	if path == "" {
		path = kube.KubeconfigPath()
	}
	if path == "" {
		return nil, "", errors.New("no kubeconfig: pass --kubeconfig or set KUBECONFIG (bash .ci/k8s-testenv.sh up starts a test cluster and prints its kubeconfig)")
	}
	c, err := kube.Open(kube.Config{Kubeconfig: path})
	if err != nil {
		return nil, "", err
	}
	return c, path, nil
}

// prepareNamespace creates the namespace when missing, and checks that
// the node is there and nothing of sluice's is in the namespace yet (so
// that whatever is there after the run is the run's). It returns the
// node's taints.
func prepareNamespace(ctx context.Context, c *kube.Client, ns, name string) ([]k8sapi.Taint, error) {
	taints, err := c.NodeTaints(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w (the test cluster's kwok node is kwok-node-0; pick another with --node)", name, err)
	}
	if err := c.CreateNamespace(ctx, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	pods, secrets, err := c.Labeled(ctx, ns, kube.LabelAttempt)
	if err != nil {
		return nil, err
	}
	if n := pods + secrets; n > 0 {
		return nil, fmt.Errorf("namespace %s already holds %d pods and secrets with label %s: use another --namespace, or delete them", ns, n, kube.LabelAttempt)
	}
	return taints, nil
}

// requestCounter counts the requests of an HTTP transport by what they
// are, and times the first Pod create and the last Pod delete.
type requestCounter struct {
	mu                                  sync.Mutex
	counts                              map[string]int
	created, deleted                    int
	firstCreate, lastCreate, lastDelete time.Time
}

func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		what := requestKind(req)
		sent := time.Now()
		resp, err := rt.RoundTrip(req)
		now := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.counts[what]++
		if err != nil || resp.StatusCode >= 300 {
			return resp, err
		}
		switch what {
		case "create pods":
			if c.created == 0 {
				c.firstCreate = sent
			}
			c.created++
			c.lastCreate = now
		case "delete pods":
			c.deleted++
			c.lastDelete = now
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// requestKind names a request to the API server as a verb and a
// resource, as the API server's own metrics do: "create pods",
// "get pods/log", "list secrets", "watch pods" and so on.
func requestKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]]
	if len(parts) < 3 || parts[0] != "api" {
		return strings.ToLower(r.Method) + " " + r.URL.Path
	}
	rest := parts[2:]
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) > 2 {
		rest = rest[2:]
	}
	resource, named := rest[0], len(rest) > 1
	if len(rest) > 2 {
		resource += "/" + rest[2]
	}
	verb := map[string]string{http.MethodPost: "create", http.MethodDelete: "delete", http.MethodPut: "update", http.MethodPatch: "patch"}[r.Method]
	if r.Method == http.MethodGet {
		switch {
		case named:
			verb = "get"
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		default:
			verb = "list"
		}
	}
	return verb + " " + resource
}

func perTask(counts map[string]int, n int) KubePerTask {
	var p KubePerTask
	for what, c := range counts {
		v := float64(c) / float64(n)
		verb, resource, _ := strings.Cut(what, " ")
		switch {
		case resource == "pods/log":
			p.Logs += v
			continue
		case resource == "pods" && (verb == "create" || verb == "delete"):
			p.PodCreateDelete += v
		case resource == "secrets":
			p.Secrets += v
		case verb == "watch" || verb == "list":
			p.WatchList += v
		default:
			p.Other += v
		}
		p.BeyondLogs += v
	}
	return p
}

// SortedRequests lists counts by what, for printing.
func SortedRequests(counts map[string]int) []string {
	out := make([]string, 0, len(counts))
	for what := range counts {
		out = append(out, what)
	}
	sort.Strings(out)
	return out
}

// cpuSeconds is the CPU time this process has used, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
