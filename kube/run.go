package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// Request is one Pod to run.
type Request struct {
	// Name is the Pod's (and its Secret's) name; see PodName.
	Name string
	// Namespace is where it runs; empty means the Client's.
	Namespace string
	Image     string
	// PullPolicy is Kubernetes' imagePullPolicy (Always, Never,
	// IfNotPresent); empty leaves the cluster's default.
	PullPolicy string
	// Command and Args replace the image's ENTRYPOINT and CMD; nil keeps
	// the image's.
	Command, Args []string
	// Env is given in the Pod spec; SecretEnv goes into a Secret made for
	// the attempt (deleted after it) and reaches the container through
	// envFrom, so it is never in the Pod spec in clear.
	Env, SecretEnv []string
	Workdir        string
	// RunAsUser and RunAsGroup set the container's securityContext.
	RunAsUser, RunAsGroup *int64
	// Requests and Limits are resource quantities by resource name.
	Requests, Limits map[string]string
	ServiceAccount   string
	NodeSelector     map[string]string
	// Labels and Annotations are the task's; the Client adds its own.
	Labels, Annotations map[string]string
	// Tolerations is a JSON list of tolerations; PodTemplate a JSON Pod
	// the Pod is merged into (strategic merge).
	Tolerations, PodTemplate json.RawMessage
	// Timeout ends the attempt as timed out this long after the Pod is
	// created; 0 means none.
	Timeout time.Duration
	// KillGrace is the Pod's termination grace period when it is
	// stopped; default executor.DefaultKillGrace, in whole seconds
	// rounded up.
	KillGrace time.Duration
	// MaxOutput bounds one output value; default executor.DefaultMaxOutput.
	MaxOutput int
	Log       executor.LogSink
	// Started, if set, is called with "namespace/name" once the Pod is
	// created.
	Started func(pod string)
	// Blocked, if set, is called with the scheduler's reason while the Pod
	// cannot be scheduled, and with "" once it is.
	Blocked func(reason string)
}

// Run runs the Pod of one attempt and returns its result: success when
// its container exits 0, failed for another exit code, an image that
// cannot be pulled, an eviction or a Pod deleted by someone else, timed
// out after Timeout, and failed with Stopped set when ctx ends first. The
// Pod (and the attempt's Secret) is deleted before Run returns; a running
// one gets the kill grace to stop.
func (c *Client) Run(ctx context.Context, r *Request) *executor.Result {
	ns := r.Namespace
	if ns == "" {
		ns = c.namespace
	}
	pod, secret, err := c.build(r, ns)
	if err != nil {
		return startFailed(ctx, err)
	}
	if err := c.watchNamespace(ctx, ns); err != nil {
		return startFailed(ctx, err)
	}
	events, unsubscribe := c.subscribe(ns, r.Name)
	defer unsubscribe()
	// Deletes outlive ctx: a stopped attempt still cleans up.
	cleanup := context.WithoutCancel(ctx)
	if secret != nil {
		err := c.create(ctx, ns, "secrets", secret, nil)
		if isAlreadyExists(err) {
			// A retried create after a lost answer made it, or another
			// sluice in this namespace (its attempt ids start at 1 too)
			// did: only this attempt's own may be used and deleted.
			var old k8sapi.Secret
			if err = c.get(ctx, ns, "secrets", secret.Metadata.Name, &old); err == nil && !r.owns(old.Metadata.Labels) {
				return startFailed(ctx, taken("secret", ns, secret.Metadata.Name, old.Metadata.Labels))
			}
		}
		if err != nil {
			return startFailed(ctx, fmt.Errorf("cannot create the attempt's secret %s/%s: %w", ns, secret.Metadata.Name, clean(err)))
		}
		defer c.deleteSecret(cleanup, ns, secret.Metadata.Name)
	}
	created := &k8sapi.Pod{}
	err = c.create(ctx, ns, "pods", pod, created)
	if isAlreadyExists(err) {
		// As for the Secret: a retried create after a lost answer, or
		// another sluice's Pod of the same name.
		created = &k8sapi.Pod{}
		if err = c.get(ctx, ns, "pods", r.Name, created); err == nil && !r.owns(created.Metadata.Labels) {
			return startFailed(ctx, taken("pod", ns, r.Name, created.Metadata.Labels))
		}
	}
	if err != nil {
		return startFailed(ctx, fmt.Errorf("cannot create pod %s/%s: %w", ns, r.Name, clean(err)))
	}
	deleted := false
	defer func() {
		if !deleted {
			c.deletePod(cleanup, ns, r.Name, 0)
		}
	}()
	res := &executor.Result{Started: time.Now()}
	r.system(fmt.Sprintf("created pod %s/%s of image %s", ns, r.Name, r.Image))
	if r.Started != nil {
		r.Started(ns + "/" + r.Name)
	}
	run := &podRun{c: c, r: r, ns: ns, last: created}
	defer run.stopLogs()
	// An adopted Pod may have ended before Run subscribed, its last event
	// gone to no one: judge the state the API gave, then what comes.
	if run.finished(res) {
		return res
	}

	var timeout <-chan time.Time
	if r.Timeout > 0 {
		t := time.NewTimer(r.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case ev := <-events:
			if ev.deleted {
				run.last = ev.pod
				if done := run.finished(res); done {
					return res
				}
				res.State, res.Error = sluice.AttemptFailed, fmt.Sprintf("pod %s/%s was deleted before its container ended (by kubectl, a controller or the node)", ns, r.Name)
				deleted = true
				return run.end(res)
			}
			run.last = ev.pod
			if run.finished(res) {
				return res
			}
			if msg := run.stuck(); msg != "" {
				res.State, res.Error = sluice.AttemptFailed, msg
				deleted = c.stopPod(ns, r.Name, r.grace(), events)
				return run.end(res)
			}
		case <-timeout:
			deleted = c.stopPod(ns, r.Name, r.grace(), events)
			res.State = sluice.AttemptTimedOut
			res.Error = fmt.Sprintf("timed out after %s: deleted its pod (grace %s)", r.Timeout, graceText(r.grace()))
			return run.end(res)
		case <-ctx.Done():
			deleted = c.stopPod(ns, r.Name, r.grace(), events)
			res.State, res.Stopped = sluice.AttemptFailed, true
			res.Error = fmt.Sprintf("stopped (%v): deleted its pod (grace %s)", context.Cause(ctx), graceText(r.grace()))
			return run.end(res)
		}
	}
}

// build makes the attempt's Pod (a *k8sapi.Pod, or the pod_template
// merged with it) and, when it has secret env, its Secret.
func (c *Client) build(r *Request, ns string) (any, *k8sapi.Secret, error) {
	labels := map[string]string{}
	for k, v := range r.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range r.Annotations {
		annotations[k] = v
	}
	for k, v := range c.ownLabels(r) {
		labels[k] = v
	}
	ctr := k8sapi.Container{
		Name:                     ContainerName,
		Image:                    r.Image,
		ImagePullPolicy:          r.PullPolicy,
		Command:                  r.Command,
		Args:                     r.Args,
		WorkingDir:               r.Workdir,
		TerminationMessagePath:   OutputPath,
		TerminationMessagePolicy: k8sapi.TerminationMessageFile,
	}
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		ctr.Env = append(ctr.Env, k8sapi.EnvVar{Name: k, Value: v})
	}
	if r.RunAsUser != nil || r.RunAsGroup != nil {
		ctr.SecurityContext = &k8sapi.SecurityContext{RunAsUser: r.RunAsUser, RunAsGroup: r.RunAsGroup}
	}
	requests, err := quantities(r.Requests, "requests")
	if err != nil {
		return nil, nil, err
	}
	limits, err := quantities(r.Limits, "limits")
	if err != nil {
		return nil, nil, err
	}
	if requests != nil || limits != nil {
		ctr.Resources = &k8sapi.ResourceRequirements{Requests: requests, Limits: limits}
	}
	var secret *k8sapi.Secret
	if len(r.SecretEnv) > 0 {
		secret = &k8sapi.Secret{
			APIVersion: "v1", Kind: "Secret",
			Metadata: k8sapi.ObjectMeta{Name: r.Name, Namespace: ns, Labels: c.ownLabels(r)},
			Type:     k8sapi.SecretTypeOpaque,
			Data:     map[string][]byte{},
		}
		for _, kv := range r.SecretEnv {
			k, v, _ := strings.Cut(kv, "=")
			secret.Data[k] = []byte(v)
		}
		ctr.EnvFrom = []k8sapi.EnvFromSource{{SecretRef: &k8sapi.LocalObjectReference{Name: r.Name}}}
	}
	grace := int64(math.Ceil(r.grace().Seconds()))
	pod := &k8sapi.Pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: k8sapi.ObjectMeta{Name: r.Name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: k8sapi.PodSpec{
			RestartPolicy:                 k8sapi.RestartPolicyNever,
			ServiceAccountName:            r.ServiceAccount,
			NodeSelector:                  r.NodeSelector,
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []k8sapi.Container{ctr},
		},
	}
	if len(r.Tolerations) > 0 {
		var list []map[string]any
		if err := json.Unmarshal(r.Tolerations, &list); err != nil {
			return nil, nil, fmt.Errorf("tolerations: %w", err)
		}
		pod.Spec.Tolerations = r.Tolerations
	}
	if len(r.PodTemplate) == 0 {
		return pod, secret, nil
	}
	merged, err := merge(r.PodTemplate, pod)
	if err != nil {
		return nil, nil, err
	}
	// What sluice must know stays sluice's, whatever the template says.
	meta := object(merged, "metadata")
	meta["name"], meta["namespace"] = r.Name, ns
	object(merged, "spec")["restartPolicy"] = k8sapi.RestartPolicyNever
	own := object(meta, "labels")
	for k, v := range c.ownLabels(r) {
		own[k] = v
	}
	return merged, secret, nil
}

// object is m[key] as an object, made when it is none.
func object(m map[string]any, key string) map[string]any {
	o, ok := m[key].(map[string]any)
	if !ok {
		o = map[string]any{}
		m[key] = o
	}
	return o
}

// owns reports whether a Pod or Secret with these labels is this
// attempt's: same attempt id and lease token.
func (r *Request) owns(labels map[string]string) bool {
	return labels[LabelAttempt] == r.Labels[LabelAttempt] && labels[LabelLease] == r.Labels[LabelLease]
}

// taken is the error of an attempt whose Pod or Secret name is held by
// something that is not its own.
func taken(kind, ns, name string, labels map[string]string) error {
	return fmt.Errorf("a %s named %s/%s already exists and is not this attempt's (its attempt %q, lease %q): "+
		"another sluice installation likely runs pods in this namespace; give each installation its own namespace (--kube-namespace or the task's namespace), or delete that %s if it is stale",
		kind, ns, name, labels[LabelAttempt], labels[LabelLease], kind)
}

// ownLabels are the labels sluice finds its Pods and Secrets by.
func (c *Client) ownLabels(r *Request) map[string]string {
	out := map[string]string{LabelWorker: c.worker}
	for k, v := range r.Labels {
		if strings.HasPrefix(k, "dev.sluice/") {
			out[k] = v
		}
	}
	return out
}

// merge lays pod over the template as a strategic merge patch: the
// template's containers, volumes and the like stay, merged by name with
// what sluice sets (its container is named ContainerName).
func merge(template json.RawMessage, pod *k8sapi.Pod) (map[string]any, error) {
	patch, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	merged, err := k8sapi.MergePod(template, patch)
	if err != nil {
		return nil, fmt.Errorf("pod_template: cannot merge the task's pod into it: %w", err)
	}
	return merged, nil
}

// quantities checks resource quantities and writes them as the API does.
func quantities(m map[string]string, what string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for k, v := range m {
		q, err := k8sapi.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("resources %s %s: %q is not a quantity", what, k, v)
		}
		out[k] = q.String()
	}
	return out, nil
}

// podRun follows one Pod: its log stream and what its status says.
type podRun struct {
	c       *Client
	r       *Request
	ns      string
	last    *k8sapi.Pod
	blocked string

	logsStarted bool
	logsDone    chan struct{}
	cancelLogs  context.CancelFunc
	// ended is closed when the Pod is over (waitLogs), for the log
	// stream to stop opening itself again.
	ended chan struct{}
}

// finished reports whether the Pod ended, and fills res from its status
// when it did.
func (p *podRun) finished(res *executor.Result) bool {
	pod := p.last
	p.followLogs()
	p.unblock()
	st := containerStatus(pod)
	switch {
	case pod.Status.Phase == k8sapi.PodSucceeded, pod.Status.Phase == k8sapi.PodFailed:
	case st != nil && st.State.Terminated != nil:
	default:
		return false
	}
	p.waitLogs(10 * time.Second)
	res.Finished = time.Now()
	var term *k8sapi.ContainerStateTerminated
	if st != nil {
		term = st.State.Terminated
	}
	if term != nil {
		code := int(term.ExitCode)
		res.ExitCode = &code
	}
	switch {
	case pod.Status.Reason == "Evicted":
		res.State, res.Error = sluice.AttemptFailed, fmt.Sprintf("evicted from node %s: %s", pod.Spec.NodeName, pod.Status.Message)
	case pod.Status.Reason == "DeadlineExceeded":
		res.State, res.Error = sluice.AttemptTimedOut, "the pod's activeDeadlineSeconds passed: "+pod.Status.Message
	case term == nil && pod.Status.Phase == k8sapi.PodSucceeded:
		res.State = sluice.AttemptSuccess
	case term == nil:
		res.State, res.Error = sluice.AttemptFailed, fmt.Sprintf("pod %s failed: %s %s", pod.Metadata.Name, pod.Status.Reason, pod.Status.Message)
	case term.Reason == "OOMKilled":
		res.State = sluice.AttemptFailed
		res.Error = executor.ExitText(int64(term.ExitCode)) + ": out of memory (OOMKilled)"
		if l, ok := containerLimit(pod, "memory"); ok {
			res.Error += ", over its limit of " + l
		}
		res.Error += " (raise the task's memory limit)"
	case term.ExitCode != 0:
		res.State, res.Error = sluice.AttemptFailed, executor.ExitText(int64(term.ExitCode))
		if term.Reason != "" && term.Reason != "Error" {
			res.Error += " (" + term.Reason + ")"
		}
	default:
		// The kubelet keeps only the last 4 KiB of a termination message:
		// what comes back from a longer one starts mid-line, its first
		// keys lost and the first one left cut.
		if len(term.Message) >= maxTermination {
			res.State = sluice.AttemptFailed
			res.Error = "the outputs written to $SLUICE_OUTPUT reached 4 KiB, Kubernetes' limit of a container's termination message, so they came back cut: " +
				"write fewer or shorter outputs (pass large values through storage the tasks share and output their location)"
			break
		}
		res.State = sluice.AttemptSuccess
		outs, err := executor.ParseOutputs([]byte(term.Message), p.r.maxOutput())
		if err != nil {
			res.State, res.Error = sluice.AttemptFailed, err.Error()
			break
		}
		res.Outputs = outs
	}
	return true
}

// stuck says why a Pod that has not ended will not run: an image that
// cannot be pulled, a container that cannot be made. It also reports an
// unschedulable Pod's reason through Request.Blocked (that one may yet
// be scheduled: it waits, up to the task's timeout).
func (p *podRun) stuck() string {
	pod := p.last
	for _, cond := range pod.Status.Conditions {
		if cond.Type == k8sapi.PodScheduled && cond.Status == k8sapi.ConditionFalse && cond.Reason == k8sapi.PodReasonUnschedulable {
			reason := "pod unschedulable: " + cond.Message
			if reason != p.blocked {
				p.blocked = reason
				p.r.system("waiting: " + reason)
				if p.r.Blocked != nil {
					p.r.Blocked(reason)
				}
			}
		}
	}
	st := containerStatus(pod)
	if st == nil || st.State.Waiting == nil {
		return ""
	}
	switch w := st.State.Waiting; w.Reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName":
		return fmt.Sprintf("cannot pull image %s (%s): %s", p.r.Image, w.Reason, w.Message)
	case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return fmt.Sprintf("cannot start the container (%s): %s", w.Reason, w.Message)
	}
	return ""
}

// unblock clears a blocked reason once the Pod is scheduled.
func (p *podRun) unblock() {
	if p.blocked == "" || p.last.Spec.NodeName == "" {
		return
	}
	p.blocked = ""
	p.r.system("scheduled on node " + p.last.Spec.NodeName)
	if p.r.Blocked != nil {
		p.r.Blocked("")
	}
}

// end finishes a result the worker decided on (not the Pod's own end).
func (p *podRun) end(res *executor.Result) *executor.Result {
	p.waitLogs(2 * time.Second)
	if res.Finished.IsZero() {
		res.Finished = time.Now()
	}
	if p.blocked != "" && p.r.Blocked != nil {
		p.r.Blocked("")
	}
	return res
}

// followLogs starts streaming the container's log once it has one.
func (p *podRun) followLogs() {
	if p.logsStarted {
		return
	}
	st := containerStatus(p.last)
	if st == nil || (st.State.Running == nil && st.State.Terminated == nil) {
		return
	}
	p.logsStarted = true
	ctx, cancel := context.WithCancel(context.Background())
	p.cancelLogs, p.logsDone, p.ended = cancel, make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.logsDone)
		p.c.streamLogs(ctx, p.ns, p.r.Name, p.r.Log, p.ended)
	}()
}

// waitLogs waits, up to d, for the log stream of a Pod that is over to
// end.
func (p *podRun) waitLogs(d time.Duration) {
	if p.logsDone == nil {
		return
	}
	select {
	case <-p.ended:
	default:
		close(p.ended)
	}
	select {
	case <-p.logsDone:
	case <-time.After(d):
		p.cancelLogs()
		<-p.logsDone
	}
}

func (p *podRun) stopLogs() {
	if p.cancelLogs != nil {
		p.cancelLogs()
		<-p.logsDone
	}
}

// streamLogs copies the container's log into sink as it comes, until the
// container ends; ended is closed once the watch saw the Pod end. A stream
// that breaks is opened again from the last line's time; lines already
// seen are skipped.
func (c *Client) streamLogs(ctx context.Context, ns, name string, sink executor.LogSink, ended <-chan struct{}) {
	out := &executor.LineWriter{Stream: executor.Stdout, Sink: sink}
	defer out.Close()
	var last time.Time
	// read copies one stream's lines not seen yet; it reports whether the
	// stream ended cleanly.
	read := func(rc io.ReadCloser) bool {
		defer rc.Close()
		return copyLines(rc, out, &last)
	}
	logPath, err := resourcePath(ns, "pods", name, "log")
	if err != nil {
		return
	}
	stream := func(ctx context.Context, follow bool) (io.ReadCloser, error) {
		q := url.Values{"container": {ContainerName}, "timestamps": {"true"}}
		if follow {
			q.Set("follow", "true")
		}
		if !last.IsZero() {
			// As client-go sends a metav1.Time: whole seconds, RFC 3339.
			q.Set("sinceTime", last.UTC().Format(time.RFC3339))
		}
		resp, err := c.api.send(ctx, http.MethodGet, logPath, q, nil, acceptJSON)
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}
	// Refusals (no such Pod, not allowed) end the stream after 20 in a
	// row; a network or API server that fails is waited out, however
	// long, until the attempt ends: giving up after 20 tries lost the
	// rest of the log of a Pod that outlived a 20 s outage
	// (TestRunThroughAnOutage).
	refusals := 0
	for {
		// A followed stream ends by itself when the container exits. One
		// still open a moment after the watch saw the Pod end (kwok's fake
		// kubelet never ends it) is cut, and what is left of the log is
		// read once without following, so nothing is lost by cutting
		// early: waiting for it held every such attempt, and its slot,
		// 10 s (waitLogs) after its Pod ended.
		sctx, cancel := context.WithCancel(ctx)
		var cut atomic.Bool
		readDone := make(chan struct{})
		go func() {
			select {
			case <-ended:
			case <-readDone:
				return
			}
			select {
			case <-time.After(250 * time.Millisecond):
				cut.Store(true)
				cancel()
			case <-readDone:
			}
		}()
		rc, err := stream(sctx, true)
		clean := false
		if err == nil {
			clean = read(rc)
		}
		close(readDone)
		cancel()
		if cut.Load() && ctx.Err() == nil {
			if rc, err := stream(ctx, false); err == nil {
				read(rc)
			}
			return
		}
		switch {
		case err == nil:
			refusals = 0
		case !transient(err):
			refusals++
		}
		if ctx.Err() != nil || refusals >= 20 {
			return
		}
		// The kubelet ends a followed stream when the container exits, and
		// the watch soon says that the Pod ended (ended is closed): a
		// stream that ended cleanly then had the whole log. One that broke
		// is opened again from the last line's time, at once when the Pod
		// ended, else after a second. The watch tells, so this asks no
		// more of the API server (a GET of the Pod here cost a request per
		// attempt, and a second's wait before the Pod could be deleted).
		select {
		case <-ctx.Done():
			return
		case <-ended:
			if clean {
				return
			}
			if err != nil {
				// It could not be opened (the API server was away): what
				// is left of the log, read once.
				if rc, err := stream(ctx, false); err == nil {
					read(rc)
				}
				return
			}
		case <-time.After(time.Second):
		}
	}
}

// copyLines copies the lines of one log stream read with timestamps=true
// to out, without their times, skipping those not after the *last it was
// called with (seen on an earlier stream) and moving *last on to the
// latest time seen. It reports whether the stream ended cleanly (EOF). A
// line longer than the reader's buffer comes in pieces; only the first
// has the time, and the rest of a line skipped is skipped with it.
//
// Lines of one stream are never skipped for their time: the runtime
// stamps stdout and stderr lines as it reads each pipe, so a line may
// come after one with a later time (TestCopyLinesOutOfOrder).
func copyLines(r io.Reader, out io.Writer, last *time.Time) bool {
	br := bufio.NewReaderSize(r, 64<<10)
	since := *last
	atStart, skip := true, false
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := line
			if atStart {
				var ts time.Time
				ts, text = splitTimestamp(line)
				skip = !ts.IsZero() && !since.IsZero() && !ts.After(since)
				if ts.After(*last) {
					*last = ts
				}
			}
			if !skip {
				_, _ = out.Write(text)
			}
			atStart = line[len(line)-1] == '\n'
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return err == io.EOF
		}
	}
}

// splitTimestamp splits the RFC 3339 time the API puts before each line
// with timestamps=true from the line. A continuation of a line longer than
// the reader's buffer has none.
func splitTimestamp(line []byte) (time.Time, []byte) {
	sp := strings.IndexByte(string(line[:min(len(line), 40)]), ' ')
	if sp < 20 {
		return time.Time{}, line
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return time.Time{}, line
	}
	return ts, line[sp+1:]
}

// stopPod deletes a Pod with the kill grace and waits, up to the grace
// and some, for the watch to see it gone. It reports whether it was.
func (c *Client) stopPod(ns, name string, grace time.Duration, events <-chan podEvent) bool {
	ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
	defer cancel()
	if err := c.deletePod(ctx, ns, name, grace); err != nil {
		return false
	}
	for {
		select {
		case ev := <-events:
			if ev.deleted {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

// deletePod deletes a Pod; grace 0 deletes it at once (a Pod that ended
// has nothing to stop). A Pod already gone is no error.
func (c *Client) deletePod(ctx context.Context, ns, name string, grace time.Duration) error {
	secs := int64(math.Ceil(grace.Seconds()))
	opts := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": secs, "propagationPolicy": "Background"}
	err := c.remove(ctx, ns, "pods", name, opts)
	if err != nil && !isNotFound(err) {
		c.log.Warn("cannot delete a pod; a sweep deletes it later", "pod", ns+"/"+name, "err", err)
		return err
	}
	return nil
}

func (c *Client) deleteSecret(ctx context.Context, ns, name string) {
	err := c.remove(ctx, ns, "secrets", name, nil)
	if err != nil && !isNotFound(err) {
		c.log.Warn("cannot delete an attempt's secret; a sweep deletes it later", "secret", ns+"/"+name, "err", err)
	}
}

// create POSTs obj into a namespace's resource, and decodes the answer
// into out when it is not nil.
func (c *Client) create(ctx context.Context, ns, resource string, obj, out any) error {
	p, err := resourcePath(ns, resource, "", "")
	if err != nil {
		return err
	}
	return c.api.do(ctx, http.MethodPost, p, nil, obj, out)
}

// get GETs one object.
func (c *Client) get(ctx context.Context, ns, resource, name string, out any) error {
	p, err := resourcePath(ns, resource, name, "")
	if err != nil {
		return err
	}
	return c.api.do(ctx, http.MethodGet, p, nil, nil, out)
}

// remove DELETEs one object, with DeleteOptions when opts is not nil.
func (c *Client) remove(ctx context.Context, ns, resource, name string, opts any) error {
	p, err := resourcePath(ns, resource, name, "")
	if err != nil {
		return err
	}
	return c.api.do(ctx, http.MethodDelete, p, nil, opts, nil)
}

func containerStatus(pod *k8sapi.Pod) *k8sapi.ContainerStatus {
	if pod == nil {
		return nil
	}
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == ContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func containerLimit(pod *k8sapi.Pod, name string) (string, bool) {
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == ContainerName && ctr.Resources != nil {
			if q, ok := ctr.Resources.Limits[name]; ok {
				return q, true
			}
		}
	}
	return "", false
}

func graceText(d time.Duration) string { return fmt.Sprintf("%ds", int64(math.Ceil(d.Seconds()))) }

func (r *Request) grace() time.Duration {
	if r.KillGrace <= 0 {
		return executor.DefaultKillGrace
	}
	return r.KillGrace
}

func (r *Request) maxOutput() int {
	if r.MaxOutput <= 0 {
		return executor.DefaultMaxOutput
	}
	return r.MaxOutput
}

func (r *Request) system(line string) {
	if r.Log != nil {
		r.Log.Line(executor.System, time.Now(), []byte(line))
	}
}

// clean shortens an API error to the server's message.
func clean(err error) error {
	var se *StatusError
	if errors.As(err, &se) && se.Status.Message != "" {
		return errors.New(se.Status.Message)
	}
	return err
}

// startFailed is the result of an attempt whose Pod never ran. When ctx
// ended it, the attempt was stopped.
func startFailed(ctx context.Context, err error) *executor.Result {
	now := time.Now()
	res := &executor.Result{State: sluice.AttemptFailed, Error: err.Error(), Started: now, Finished: now}
	if ctx.Err() != nil {
		res.Stopped = true
		res.Error = fmt.Sprintf("stopped (%v): %v", context.Cause(ctx), err)
	}
	return res
}
