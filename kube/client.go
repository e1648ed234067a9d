package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
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
	cs        kubernetes.Interface
	config    *rest.Config
	namespace string
	worker    string // the worker's id as a label value
	source    string // where the configuration came from, for messages
	log       *slog.Logger

	mu      sync.Mutex
	watches map[string]*watch // by namespace
	waiters map[string]chan podEvent
	stop    chan struct{}
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
	rc, ns, source, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if cfg.Namespace != "" {
		ns = cfg.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	// client-go's default of 5 requests a second (burst 10) would cap a
	// worker at a couple of pods a second; the API server's own priority
	// and fairness is the limit that matters.
	rc.QPS, rc.Burst = 500, 1000
	rc.UserAgent = "sluice-worker"
	if cfg.WrapTransport != nil {
		rc.Wrap(cfg.WrapTransport)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: %s: %w", source, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Client{
		cs: cs, config: rc, namespace: ns, worker: LabelValue(cfg.Worker), source: source, log: log,
		watches: map[string]*watch{}, waiters: map[string]chan podEvent{}, stop: make(chan struct{}),
	}, nil
}

// restConfig finds the cluster's configuration as kubectl and client-go
// programs do, and says where it came from.
func restConfig(path string) (*rest.Config, string, string, error) {
	if path != "" {
		return fromKubeconfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, path)
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		rc, err := rest.InClusterConfig()
		if err == nil {
			ns, _ := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
			return rc, strings.TrimSpace(string(ns)), "the in-cluster service account", nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	found := ""
	for _, p := range rules.Precedence {
		if _, err := os.Stat(p); err == nil {
			found = p
			break
		}
	}
	if found == "" {
		return nil, "", "", ErrNotConfigured
	}
	source := found
	if os.Getenv("KUBECONFIG") != "" {
		source = "$KUBECONFIG (" + found + ")"
	}
	return fromKubeconfig(rules, source)
}

func fromKubeconfig(rules *clientcmd.ClientConfigLoadingRules, source string) (*rest.Config, string, string, error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", "", fmt.Errorf("kube: kubeconfig %s: %w", source, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		ns = ""
	}
	return rc, ns, source, nil
}

// Namespace is where Pods run when a task names none.
func (c *Client) Namespace() string { return c.namespace }

// Server is the API server's address.
func (c *Client) Server() string { return c.config.Host }

// Source says where the configuration came from: a kubeconfig's path or
// the in-cluster service account.
func (c *Client) Source() string { return c.source }

// Ping checks that the API server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.cs.CoreV1().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return fmt.Errorf("kube: cannot reach the API server at %s (from %s): %w", c.config.Host, c.source, err)
	}
	return nil
}

// Close stops the Client's watches.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
}

// podEvent is what a watch tells the attempt waiting on a Pod.
type podEvent struct {
	pod     *corev1.Pod
	deleted bool
}

// watch is one informer on this worker's Pods in one namespace.
type watch struct {
	ready chan struct{}
	err   error
}

// watchNamespace starts, once per namespace, the informer that tells
// waiting attempts about their Pods, and waits until it has listed them.
func (c *Client) watchNamespace(ctx context.Context, ns string) error {
	c.mu.Lock()
	w, ok := c.watches[ns]
	if !ok {
		w = &watch{ready: make(chan struct{})}
		c.watches[ns] = w
		go c.runWatch(ns, w)
	}
	c.mu.Unlock()
	// runWatch closes ready within its 30 s.
	select {
	case <-w.ready:
		return w.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (c *Client) runWatch(ns string, w *watch) {
	f := informers.NewSharedInformerFactoryWithOptions(c.cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelWorker + "=" + c.worker }))
	inf := f.Core().V1().Pods().Informer()
	send := func(obj any, deleted bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		c.mu.Lock()
		ch := c.waiters[pod.Namespace+"/"+pod.Name]
		c.mu.Unlock()
		if ch == nil {
			return
		}
		// The waiter needs only the newest state: replace an unread one.
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- podEvent{pod: pod, deleted: deleted}:
		default:
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { send(obj, false) },
		UpdateFunc: func(_, obj any) { send(obj, false) },
		DeleteFunc: func(obj any) { send(obj, true) },
	})
	// The error handler runs on the informer's goroutine: errors come
	// through a channel. One that retrying cannot mend (forbidden, an
	// invalid namespace) ends the wait at once.
	failed := make(chan error, 1)
	lasting := make(chan error, 1)
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		c.log.Warn("watching pods failed; retrying", "namespace", ns, "err", err)
		select {
		case <-failed:
		default:
		}
		failed <- err
		if !transient(err) {
			select {
			case lasting <- err:
			default:
			}
		}
	})
	// The informer stops with the Client, or when it could not list.
	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }) }
	go func() {
		select {
		case <-c.stop:
			halt()
		case <-stop:
		}
	}()
	f.Start(stop)
	syncCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	synced := make(chan bool, 1)
	go func() { synced <- cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) }()
	var err error
	select {
	case ok := <-synced:
		if !ok {
			err = errors.New("no answer in 30s")
			select {
			case last := <-failed:
				err = last
			default:
			}
		}
	case err = <-lasting:
		cancel()
		<-synced
	}
	if err != nil {
		w.err = fmt.Errorf("kube: cannot watch pods in namespace %s: %w", ns, clean(err))
		halt()
		c.mu.Lock()
		delete(c.watches, ns) // the next attempt tries again
		c.mu.Unlock()
	}
	close(w.ready)
}

// transient reports whether a failed list or watch may succeed when
// tried again: the network or an overloaded API server, not a refusal.
func transient(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return !(apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsBadRequest(err) ||
			apierrors.IsInvalid(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err))
	}
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

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
