package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// podEvent is what a watch tells the attempt waiting on a Pod.
type podEvent struct {
	pod     *k8sapi.Pod
	deleted bool
}

// watch is one watch of this worker's Pods in one namespace: what
// client-go's informer did, by hand (a LIST of the worker's Pods, then a
// WATCH from the list's resourceVersion, listed again when the watch
// breaks or its version is gone).
type watch struct {
	ready chan struct{}
	err   error
}

// watchNamespace starts, once per namespace, the watch that tells waiting
// attempts about their Pods, and waits until it has listed them.
func (c *Client) watchNamespace(ctx context.Context, ns string) error {
	c.mu.Lock()
	select {
	case <-c.stop:
		c.mu.Unlock()
		return errClosed
	default:
	}
	w, ok := c.watches[ns]
	if !ok {
		w = &watch{ready: make(chan struct{})}
		c.watches[ns] = w
		c.running.Add(1)
		go func() {
			defer c.running.Done()
			c.runWatch(ns, w)
		}()
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

// podWatcher is the state of one namespace's watch.
type podWatcher struct {
	c     *Client
	ns    string
	path  string
	query url.Values // the worker's label selector
	known map[string]*k8sapi.Pod
}

func (c *Client) runWatch(ns string, w *watch) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	pw := &podWatcher{c: c, ns: ns, query: url.Values{"labelSelector": {LabelWorker + "=" + c.worker}}, known: map[string]*k8sapi.Pod{}}
	var err error
	if pw.path, err = resourcePath(ns, "pods", "", ""); err != nil {
		c.fail(ns, w, err)
		return
	}
	// The first list: tried again for 30 s, unless what failed is a
	// refusal that trying again cannot mend (forbidden, an invalid
	// namespace), which ends the wait at once.
	deadline := time.Now().Add(30 * time.Second)
	var rv string
	for backoff := 500 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		lctx, lcancel := context.WithDeadline(ctx, deadline)
		var lerr error
		rv, lerr = pw.list(lctx)
		lcancel()
		if lerr == nil {
			break
		}
		if errors.Is(lerr, context.DeadlineExceeded) && !time.Now().Before(deadline) {
			if err == nil {
				err = errors.New("no answer in 30s")
			}
			c.fail(ns, w, err)
			return
		}
		err = lerr
		c.log.Warn("watching pods failed; retrying", "namespace", ns, "err", lerr)
		if !transient(lerr) || time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			c.fail(ns, w, err)
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
	}
	close(w.ready)
	// Then watch, from where the last list or event left off, until the
	// Client is closed.
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		var werr error
		var events int
		rv, events, werr = pw.watch(ctx, rv)
		if ctx.Err() != nil {
			return
		}
		if werr == nil || events > 0 {
			// A watch that worked: the next failure waits from the start.
			backoff = 500 * time.Millisecond
		}
		if werr == nil {
			continue // the server ended the watch (timeoutSeconds): watch again
		}
		if !isGone(werr) {
			c.log.Warn("watching pods failed; retrying", "namespace", ns, "err", werr)
		}
		for ctx.Err() == nil {
			if !isGone(werr) {
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(2*backoff, 30*time.Second)
			}
			var lerr error
			if rv, lerr = pw.list(ctx); lerr == nil {
				break
			}
			werr = lerr
			c.log.Warn("listing pods failed; retrying", "namespace", ns, "err", lerr)
		}
	}
}

// fail ends a watch that could not list: the next attempt tries again.
func (c *Client) fail(ns string, w *watch, err error) {
	w.err = fmt.Errorf("kube: cannot watch pods in namespace %s: %w", ns, clean(err))
	c.mu.Lock()
	delete(c.watches, ns)
	c.mu.Unlock()
	close(w.ready)
}

// list lists the worker's Pods and tells their waiters their state,
// those gone since the last list or event as deleted. It returns the
// list's resourceVersion.
func (pw *podWatcher) list(ctx context.Context) (string, error) {
	seen := map[string]bool{}
	q := url.Values{"labelSelector": pw.query["labelSelector"], "limit": {"500"}}
	var rv string
	for {
		var l k8sapi.PodList
		if err := pw.c.api.do(ctx, http.MethodGet, pw.path, q, nil, &l); err != nil {
			return "", err
		}
		for i := range l.Items {
			p := &l.Items[i]
			seen[p.Metadata.Name] = true
			pw.known[p.Metadata.Name] = p
			pw.c.send(p, false)
		}
		rv = l.Metadata.ResourceVersion
		if l.Metadata.Continue == "" {
			break
		}
		q.Set("continue", l.Metadata.Continue)
	}
	for name, p := range pw.known {
		if !seen[name] {
			delete(pw.known, name)
			pw.c.send(p, true)
		}
	}
	return rv, nil
}

// errShortWatch is a watch the server ended within a second and before
// any event (client-go's reflector's "very short watch"): watching again
// at once would be a loop.
var errShortWatch = errors.New("the watch ended within a second, before any event")

// watch watches the worker's Pods from resourceVersion rv until the
// server ends the watch (nil) or it breaks; it returns the last
// resourceVersion seen and the number of events (bookmarks too).
func (pw *podWatcher) watch(ctx context.Context, rv string) (string, int, error) {
	start := time.Now()
	events := 0
	q := url.Values{
		"labelSelector": pw.query["labelSelector"], "watch": {"true"}, "resourceVersion": {rv},
		"allowWatchBookmarks": {"true"},
		// As client-go's reflector: 5 to 10 minutes, so that watches of
		// many workers do not end together.
		"timeoutSeconds": {strconv.Itoa(300 + rand.IntN(300))},
	}
	resp, err := pw.c.api.send(ctx, http.MethodGet, pw.path, q, nil, acceptProtobuf)
	if err != nil {
		return rv, events, err
	}
	defer resp.Body.Close()
	event := pw.jsonEvents(resp.Body)
	if isProtobuf(resp) {
		event = pw.protobufEvents(resp.Body)
	}
	for {
		typ, p, st, err := event()
		if err != nil {
			if err == io.EOF {
				if events == 0 && time.Since(start) < time.Second {
					return rv, events, errShortWatch
				}
				return rv, events, nil
			}
			return rv, events, err
		}
		if typ == "ERROR" {
			if st == nil {
				return rv, events, errors.New("watch error event without a Status")
			}
			return rv, events, &StatusError{Status: *st}
		}
		events++
		if p.Metadata.ResourceVersion != "" {
			rv = p.Metadata.ResourceVersion
		}
		switch typ {
		case "ADDED", "MODIFIED":
			pw.known[p.Metadata.Name] = p
			pw.c.send(p, false)
		case "DELETED":
			delete(pw.known, p.Metadata.Name)
			pw.c.send(p, true)
		}
	}
}

// protobufEvents reads the events of a watch in protobuf.
func (pw *podWatcher) protobufEvents(r io.Reader) func() (string, *k8sapi.Pod, *k8sapi.Status, error) {
	var buf []byte
	return func() (string, *k8sapi.Pod, *k8sapi.Status, error) {
		typ, p, st, b, err := k8sapi.ReadWatchEvent(r, buf)
		buf = b
		return typ, p, st, err
	}
}

// jsonEvents reads the events of a watch in JSON (an API server that
// does not speak protobuf).
func (pw *podWatcher) jsonEvents(r io.Reader) func() (string, *k8sapi.Pod, *k8sapi.Status, error) {
	dec := json.NewDecoder(r)
	return func() (string, *k8sapi.Pod, *k8sapi.Status, error) {
		var ev k8sapi.WatchEvent
		if err := dec.Decode(&ev); err != nil {
			return "", nil, nil, err
		}
		if ev.Type == "ERROR" {
			var st k8sapi.Status
			if err := json.Unmarshal(ev.Object, &st); err != nil {
				return "", nil, nil, fmt.Errorf("watch error event: %s", ev.Object)
			}
			return ev.Type, nil, &st, nil
		}
		var p k8sapi.Pod
		if err := json.Unmarshal(ev.Object, &p); err != nil {
			return "", nil, nil, fmt.Errorf("watch event %s: %w", ev.Type, err)
		}
		return ev.Type, &p, nil, nil
	}
}

// send tells the attempt waiting on pod, if any, its newest state.
func (c *Client) send(pod *k8sapi.Pod, deleted bool) {
	c.mu.Lock()
	ch := c.waiters[pod.Metadata.Namespace+"/"+pod.Metadata.Name]
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

// transient reports whether a failed list or watch may succeed when
// tried again: the network or an overloaded API server, not a refusal.
func transient(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return !(isForbidden(err) || isReason(err, reasonUnauthorized, http.StatusUnauthorized) ||
			isReason(err, reasonBadRequest, http.StatusBadRequest) || isReason(err, reasonInvalid, http.StatusUnprocessableEntity) ||
			isNotFound(err) || isReason(err, reasonMethodNotAllowed, http.StatusMethodNotAllowed))
	}
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}
