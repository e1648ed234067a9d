package kube_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
)

// lines records what an attempt logs.
type lines struct {
	mu  sync.Mutex
	all []string
	// onLine, if set, is called with each line as it comes.
	onLine func(string)
}

func (l *lines) Line(s executor.Stream, _ time.Time, b []byte) {
	l.mu.Lock()
	l.all = append(l.all, string(s)+" "+string(b))
	l.mu.Unlock()
	if l.onLine != nil {
		l.onLine(string(b))
	}
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

type bundle struct {
	t   *testing.T
	c   *kube.Client
	ns  string
	log *lines
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	path := kubetest.Require(t)
	ns := kubetest.Namespace(t)
	c, err := kube.Open(kube.Config{Kubeconfig: path, Namespace: ns, Worker: "test:" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &bundle{t: t, c: c, ns: ns, log: &lines{}}
}

// request is a Pod on the real node running script.
func (b *bundle) request(name, script string) *kube.Request {
	return &kube.Request{
		Name: name, Image: kubetest.Image, PullPolicy: "Never",
		Command: []string{"/bin/sh", "-c"}, Args: []string{script},
		NodeSelector: kubetest.NodeSelector(kubetest.RealNode),
		Labels:       map[string]string{kube.LabelAttempt: "1", kube.LabelRun: "1", kube.LabelLease: "1"},
		KillGrace:    time.Second, Log: b.log,
	}
}

// gone fails the test unless the Pod and Secret named name are deleted.
func (b *bundle) gone(name string) {
	b.t.Helper()
	cs := kubetest.Clientset(b.t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, perr := cs.CoreV1().Pods(b.ns).Get(context.Background(), name, metav1.GetOptions{})
		_, serr := cs.CoreV1().Secrets(b.ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(perr) && apierrors.IsNotFound(serr) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("pod or secret %s/%s left behind: pod err %v, secret err %v", b.ns, name, perr, serr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRunLogsOutputsSecrets: a real container's lines reach the log as
// they come, its outputs come back through the termination message, its
// secret env reaches it from a Secret and never stands in the Pod spec,
// and the Pod and Secret are deleted after.
func TestRunLogsOutputsSecrets(t *testing.T) {
	b := setup(t)
	cs := kubetest.Clientset(t)
	w, err := cs.CoreV1().Pods(b.ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	specs := make(chan *corev1.Pod, 16)
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				specs <- p
			}
		}
	}()
	r := b.request("logs-1", `echo "first line"; echo "to stderr" >&2; echo "token is $API_TOKEN"; printf 'rows=42\nnote<<EOF\na\nb\nEOF\n' > "$SLUICE_OUTPUT"`)
	r.Env = []string{"SLUICE_TASK=logs", "SLUICE_OUTPUT=" + kube.OutputPath}
	r.SecretEnv = []string{"API_TOKEN=s3cr3t-value", "MODE=full"}
	var started string
	r.Started = func(pod string) { started = pod }
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptSuccess || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	if res.Outputs["rows"] != "42" || res.Outputs["note"] != "a\nb" {
		t.Fatalf("outputs %q", res.Outputs)
	}
	log := b.log.text()
	for _, want := range []string{"o first line", "o to stderr", "o token is s3cr3t-value", "created pod " + b.ns + "/logs-1"} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	}
	if started != b.ns+"/logs-1" {
		t.Fatalf("Started got %q", started)
	}
	select {
	case p := <-specs:
		for _, e := range p.Spec.Containers[0].Env {
			if strings.Contains(e.Value, "s3cr3t") || e.Name == "API_TOKEN" {
				t.Fatalf("the secret stands in the pod spec: %+v", e)
			}
		}
		if len(p.Spec.Containers[0].EnvFrom) != 1 || p.Spec.Containers[0].EnvFrom[0].SecretRef.Name != "logs-1" {
			t.Fatalf("env from %+v", p.Spec.Containers[0].EnvFrom)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the test's watch saw no pod")
	}
	b.gone("logs-1")
}

// TestRunExitCodes: a non-zero exit fails the attempt with its code; an
// image the node lacks under pull Never fails it with the reason.
func TestRunExitCodes(t *testing.T) {
	b := setup(t)
	res := b.c.Run(context.Background(), b.request("exit-3", "echo bye; exit 3"))
	if res.State != sluice.AttemptFailed || res.ExitCode == nil || *res.ExitCode != 3 || res.Error != "exited with code 3" {
		t.Fatalf("exit 3: %+v\n%s", res, b.log.text())
	}
	b.gone("exit-3")
	r := b.request("no-image", "true")
	r.Image = "localhost/not-there:1"
	res = b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "cannot pull image localhost/not-there:1 (ErrImageNeverPull)") {
		t.Fatalf("missing image: %+v", res)
	}
	b.gone("no-image")
}

// TestRunTimeoutAndCancel: a timeout and a cancelled context each delete
// the running Pod with the kill grace.
func TestRunTimeoutAndCancel(t *testing.T) {
	b := setup(t)
	r := b.request("timeout", "echo started; sleep 60")
	r.Timeout = 3 * time.Second
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptTimedOut || !strings.HasPrefix(res.Error, "timed out after 3s: deleted its pod (grace 1s)") {
		t.Fatalf("timeout: %+v\n%s", res, b.log.text())
	}
	b.gone("timeout")

	ctx, cancel := context.WithCancelCause(context.Background())
	r = b.request("cancel", "echo started; sleep 60")
	r.Started = func(string) {
		go func() { time.Sleep(2 * time.Second); cancel(errors.New("run cancelled")) }()
	}
	res = b.c.Run(ctx, r)
	if res.State != sluice.AttemptFailed || !res.Stopped || !strings.Contains(res.Error, "stopped (run cancelled): deleted its pod") {
		t.Fatalf("cancel: %+v", res)
	}
	b.gone("cancel")
}

// TestRunUnschedulable: a Pod no node fits waits with the scheduler's
// reason as its blocked note, cleared when the attempt ends.
func TestRunUnschedulable(t *testing.T) {
	b := setup(t)
	r := b.request("nowhere", "true")
	r.NodeSelector = map[string]string{"pool": "does-not-exist"}
	r.Timeout = 4 * time.Second
	var mu sync.Mutex
	var reasons []string
	r.Blocked = func(reason string) { mu.Lock(); reasons = append(reasons, reason); mu.Unlock() }
	res := b.c.Run(context.Background(), r)
	mu.Lock()
	defer mu.Unlock()
	if res.State != sluice.AttemptTimedOut || len(reasons) != 2 || !strings.Contains(reasons[0], "pod unschedulable: 0/") ||
		!strings.Contains(reasons[0], "node affinity/selector") || reasons[1] != "" {
		t.Fatalf("unschedulable: %+v, reasons %q", res, reasons)
	}
	b.gone("nowhere")
}

// TestRunOOMKilled: a container over its memory limit fails the attempt
// as out of memory, naming the limit.
func TestRunOOMKilled(t *testing.T) {
	b := setup(t)
	r := b.request("oom", "echo filling; head -c 200m /dev/zero | tail > /dev/null")
	r.Limits = map[string]string{"memory": "24Mi"}
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "out of memory (OOMKilled), over its limit of 24Mi") {
		t.Fatalf("oom: %+v\n%s", res, b.log.text())
	}
	b.gone("oom")
}

// TestRunPodTemplate: the template's volumes, mounts and labels are kept,
// merged with the Pod sluice builds.
func TestRunPodTemplate(t *testing.T) {
	b := setup(t)
	r := b.request("templated", `test -d /scratch && echo "scratch ok"; echo "team=$TEAM"`)
	r.Env = []string{"TEAM=data"}
	r.PodTemplate = []byte(`{"metadata":{"labels":{"team":"data"}},"spec":{"volumes":[{"name":"scratch","emptyDir":{}}],` +
		`"containers":[{"name":"task","volumeMounts":[{"name":"scratch","mountPath":"/scratch"}]}]}}`)
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptSuccess || !strings.Contains(b.log.text(), "o scratch ok") || !strings.Contains(b.log.text(), "o team=data") {
		t.Fatalf("template: %+v\n%s", res, b.log.text())
	}
	b.gone("templated")
}

// TestLeftovers: what a killed worker left (a Pod and a Secret with the
// attempt's labels) is listed, and deleted by Delete.
func TestLeftovers(t *testing.T) {
	b := setup(t)
	cs := kubetest.Clientset(t)
	labels := map[string]string{kube.LabelAttempt: "77", kube.LabelRun: "7", kube.LabelLease: "99", kube.LabelWorker: "dead"}
	_, err := cs.CoreV1().Secrets(b.ns).Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "left", Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Pods(b.ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "left", Labels: labels},
		Spec: corev1.PodSpec{NodeSelector: kubetest.NodeSelector(kubetest.FakeNode), RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "task", Image: kubetest.Image}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.c.Leftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, o := range list {
		if o.Namespace == b.ns && o.Name == "left" && o.Labels[kube.LabelAttempt] == "77" {
			found++
			if err := b.c.Delete(context.Background(), o, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the pod and secret left: %+v", found, list)
	}
	b.gone("left")
}

func TestPodName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p, task string
		id      int64
		want    string
	}{
		{"etl", "load", 12, "sluice-etl-load-12"},
		{"My_Pipe", "load[3].x", 5, "sluice-my-pipe-load-3-x-5"},
		{strings.Repeat("p", 80), "t", 123456789, "sluice-" + strings.Repeat("p", 46) + "-123456789"},
		{"__", "..", 9, "sluice-9"},
	} {
		if got := kube.PodName(c.p, c.task, c.id); got != c.want || len(got) > 63 {
			t.Errorf("PodName(%q, %q, %d) = %q, want %q", c.p, c.task, c.id, got, c.want)
		}
	}
	if got := kube.LabelValue("host:1234:ab_"); got != "host-1234-ab" {
		t.Errorf("LabelValue = %q", got)
	}
}

// TestRunKeepsTheLogOfAStreamThatDoesNotEnd runs a Pod on the kwok node,
// whose fake kubelet never ends a followed log stream: Run cuts the
// stream once the Pod ended and reads the rest without following, so the
// log arrives whole and once, and the Pod is gone when Run returns.
func TestRunKeepsTheLogOfAStreamThatDoesNotEnd(t *testing.T) {
	t.Parallel()
	cs := kubetest.Clientset(t)
	ns := kubetest.Namespace(t)
	c, err := kube.Open(kube.Config{Kubeconfig: kubetest.Require(t), Namespace: ns, Worker: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	logs := &lines{}
	res := c.Run(context.Background(), &kube.Request{
		Name: kube.PodName("p", "logs", 1), Image: kubetest.Image, PullPolicy: "Never",
		NodeSelector: kubetest.NodeSelector(kubetest.FakeNode),
		Tolerations:  []byte(`[{"key":"kwok.x-k8s.io/node","operator":"Exists","effect":"NoSchedule"}]`),
		Labels:       map[string]string{kube.LabelAttempt: "1"},
		Log:          logs,
	})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("%s: %s", res.State, res.Error)
	}
	got := logs.text()
	if strings.Count(got, "o fake log line from kwok") != 1 {
		t.Errorf("log %q: want kwok's one line once", got)
	}
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelAttempt})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d pods left", len(pods.Items))
	}
}
