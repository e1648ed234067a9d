package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// The labels of every Pod and Secret sluice creates. They name the
// attempt and its lease, so any worker can tell one whose attempt is over
// (its worker was killed) and delete it. Pipeline and task ids are label
// values only when they fit Kubernetes' rules; the annotations
// AnnotationPipeline and AnnotationTask keep them whole.
const (
	LabelAttempt  = "dev.sluice/attempt"
	LabelLease    = "dev.sluice/lease"
	LabelWorker   = "dev.sluice/worker"
	LabelRun      = "dev.sluice/run"
	LabelTask     = "dev.sluice/task"
	LabelPipeline = "dev.sluice/pipeline"

	AnnotationPipeline = "dev.sluice/pipeline-id"
	AnnotationTask     = "dev.sluice/task-id"
)

// ContainerName is the name of the task's container in its Pod; a
// pod_template may set more of it under this name.
const ContainerName = "task"

// OutputPath is $SLUICE_OUTPUT in a Pod: the container's termination
// message file, which the kubelet copies into the Pod's status when the
// container ends (at most 4 KiB: Kubernetes' limit).
const OutputPath = "/dev/termination-log"

// maxTermination is the most of a termination message the kubelet keeps
// (the end of it).
const maxTermination = 4096

// Client runs Pods on one cluster for one worker. It is safe for
// concurrent use.
type Client struct {
	api       *rest
	namespace string
	worker    string // the worker's id as a label value
	source    string // where the configuration came from, for messages
	log       *slog.Logger

	mu      sync.Mutex
	watches map[string]*watch // by namespace
	waiters map[string]chan podEvent
	stop    chan struct{}
	running sync.WaitGroup // the watches' goroutines
}

// Config says which cluster and namespace a Client uses.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file. Empty tries, in order,
	// the in-cluster configuration of a Pod's service account,
	// $KUBECONFIG and ~/.kube/config.
	Kubeconfig string
	// Namespace is where Pods run when the task names none; empty means
	// the kubeconfig context's namespace, the service account's in a
	// cluster, else "default".
	Namespace string
	// Worker is the worker's id, put on its Pods as a label.
	Worker string
	Logger *slog.Logger
	// WrapTransport, if set, wraps the HTTP transport of every request to
	// the API server; `sluice bench k8s-fanout` counts requests with it.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// ErrNotConfigured is returned by Open when no cluster is configured:
// no --kubeconfig, no in-cluster service account, no $KUBECONFIG and no
// ~/.kube/config.
var ErrNotConfigured = errors.New("kube: no cluster configured")

// Open returns a Client for the cluster cfg names. It does not reach the
// cluster; Ping does.
func Open(cfg Config) (*Client, error) {
	conn, err := findConnection(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	ns := conn.ns
	if cfg.Namespace != "" {
		ns = cfg.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Client{
		api: newREST(conn, cfg.WrapTransport), namespace: ns, worker: LabelValue(cfg.Worker), source: conn.source, log: log,
		watches: map[string]*watch{}, waiters: map[string]chan podEvent{}, stop: make(chan struct{}),
	}, nil
}

// Namespace is where Pods run when a task names none.
func (c *Client) Namespace() string { return c.namespace }

// Server is the API server's address.
// A password in it (https://user:pw@host) is shown as ***.
func (c *Client) Server() string {
	u, err := url.Parse(c.api.host)
	if err != nil {
		return "(an address that is not a URL)"
	}
	return u.Redacted()
}

// Source says where the configuration came from: a kubeconfig's path or
// the in-cluster service account.
func (c *Client) Source() string { return c.source }

// Ping checks that the API server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.api.do(ctx, http.MethodGet, "/version", nil, nil, nil); err != nil {
		return fmt.Errorf("kube: cannot reach the API server at %s (from %s): %w", c.Server(), c.source, err)
	}
	return nil
}

// Close stops the Client's watches, waits for them to end, and closes
// its connections; requests still under way fail.
func (c *Client) Close() {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
	c.running.Wait()
	c.api.transport.CloseIdleConnections()
	c.api.conns.closeAll()
}

// errClosed is the error of a watch asked of a closed Client.
var errClosed = errors.New("kube: the client is closed")

// subscribe registers the channel a Pod's events come on, before the Pod
// exists so that no event is missed.
func (c *Client) subscribe(ns, name string) (<-chan podEvent, func()) {
	key := ns + "/" + name
	ch := make(chan podEvent, 1)
	c.mu.Lock()
	c.waiters[key] = ch
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.waiters, key)
		c.mu.Unlock()
	}
}

var notLabel = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// LabelValue turns s into a valid label value: characters Kubernetes does
// not allow become "-", at most 63 characters, starting and ending with a
// letter or digit.
func LabelValue(s string) string {
	v := notLabel.ReplaceAllString(s, "-")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

// PodName names an attempt's Pod for people reading `kubectl get pods`:
// sluice-PIPELINE-TASK-ATTEMPTID, lower-cased and cut to 63 characters
// (a DNS label), the attempt id always whole.
func PodName(pipeline, task string, attempt int64) string {
	suffix := fmt.Sprintf("-%d", attempt)
	mid := strings.Trim(notName.ReplaceAllString(strings.ToLower(pipeline+"-"+task), "-"), "-")
	if max := 63 - len("sluice-") - len(suffix); len(mid) > max {
		mid = strings.TrimRight(mid[:max], "-")
	}
	if mid == "" {
		return "sluice" + suffix
	}
	return "sluice-" + mid + suffix
}
