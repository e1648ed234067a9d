package kube_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
)

// TestRunNameTakenByAnother: a Pod of the same name that is not this
// attempt's (another sluice installation in the namespace, whose attempt
// ids start at 1 too) is neither adopted nor deleted: the attempt fails
// at once and says why.
func TestRunNameTakenByAnother(t *testing.T) {
	b := setup(t)
	cs := kubetest.Clientset(t)
	other := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "taken-1", Labels: map[string]string{
			kube.LabelAttempt: "1", kube.LabelRun: "1", kube.LabelLease: "999", kube.LabelWorker: "elsewhere"}},
		Spec: corev1.PodSpec{NodeSelector: kubetest.NodeSelector("no-such-node"), RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "task", Image: kubetest.Image}}},
	}
	if _, err := cs.CoreV1().Pods(b.ns).Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := b.request("taken-1", "echo mine")
	r.Timeout = 20 * time.Second
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "already exists") {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	got, err := cs.CoreV1().Pods(b.ns).Get(context.Background(), "taken-1", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp != nil {
		t.Fatalf("the other installation's pod was deleted: %v %v", err, got)
	}
}

// TestRunSecretTakenByAnother: a Secret of the attempt's name that is
// not its own is neither used for the Pod's env nor deleted.
func TestRunSecretTakenByAnother(t *testing.T) {
	b := setup(t)
	cs := kubetest.Clientset(t)
	other := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "stale-1", Labels: map[string]string{
			kube.LabelAttempt: "1", kube.LabelRun: "1", kube.LabelLease: "999", kube.LabelWorker: "elsewhere"}},
		StringData: map[string]string{"API_TOKEN": "theirs"},
	}
	if _, err := cs.CoreV1().Secrets(b.ns).Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := b.request("stale-1", `echo "token=$API_TOKEN"`)
	r.SecretEnv = []string{"API_TOKEN=mine"}
	res := b.c.Run(context.Background(), r)
	if strings.Contains(b.log.text(), "token=theirs") {
		t.Fatalf("the pod ran with another installation's secret\nlog:\n%s", b.log.text())
	}
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "already exists") {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	if _, err := cs.CoreV1().Secrets(b.ns).Get(context.Background(), "stale-1", metav1.GetOptions{}); err != nil {
		t.Fatalf("the other installation's secret was deleted: %v", err)
	}
}

// TestRunOutputsOver4KiB: Kubernetes keeps at most 4 KiB of a
// termination message; outputs past that fail the attempt with a clear
// error rather than come back cut (a first key half gone, the rest
// missing).
func TestRunOutputsOver4KiB(t *testing.T) {
	b := setup(t)
	r := b.request("outs-1", `for i in $(seq 1 400); do echo "key$i=value-$i"; done > "$SLUICE_OUTPUT"`)
	r.Env = []string{"SLUICE_OUTPUT=" + kube.OutputPath}
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "4 KiB") {
		t.Fatalf("result %+v (%d outputs, key1=%q key400=%q)\nlog:\n%s", res, len(res.Outputs), res.Outputs["key1"], res.Outputs["key400"], b.log.text())
	}
	b.gone("outs-1")
}

// TestRunMissingNamespace: a task that names a namespace that does not
// exist fails at once with a message that names it.
func TestRunMissingNamespace(t *testing.T) {
	b := setup(t)
	r := b.request("nons-1", "echo hi")
	r.Namespace = fmt.Sprintf("%s-missing", b.ns)
	start := time.Now()
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, r.Namespace) || !strings.Contains(res.Error, "not found") {
		t.Fatalf("result %+v after %s", res, time.Since(start))
	}
	t.Logf("failed after %s: %s", time.Since(start), res.Error)
}

// TestRunLogEdges: a fast container's last lines, a line longer than the
// log reader's 64 KiB buffer, and a container that prints nothing.
func TestRunLogEdges(t *testing.T) {
	b := setup(t)
	res := b.c.Run(context.Background(), b.request("fast-1", `seq 1 3000; head -c 150000 /dev/zero | tr '\0' a; echo; echo last`))
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result %+v", res)
	}
	text := b.log.text()
	for _, want := range []string{"o 1\n", "o 2999\n", "o 3000\n", "o last"} {
		if !strings.Contains(text, want) {
			t.Fatalf("log lacks %q", want)
		}
	}
	as := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "o a") {
			as += strings.Count(l, "a")
		}
	}
	if strings.Count(text, "o 1500\n") != 1 || as != 150000 {
		t.Fatalf("log has line 1500 %d times, %d a's (want once, 150000)", strings.Count(text, "o 1500\n"), as)
	}

	quiet := &lines{}
	r := b.request("quiet-1", "true")
	r.Log = quiet
	if res := b.c.Run(context.Background(), r); res.State != sluice.AttemptSuccess {
		t.Fatalf("quiet result %+v", res)
	}
	if got := quiet.text(); strings.Contains(got, "\no ") || strings.HasPrefix(got, "o ") {
		t.Fatalf("a quiet container logged %q", got)
	}
}

// TestRunPendingDeleted: a Pod that waits to be scheduled and is then
// deleted by someone else fails the attempt at once, saying so.
func TestRunPendingDeleted(t *testing.T) {
	b := setup(t)
	cs := kubetest.Clientset(t)
	r := b.request("pend-1", "echo hi")
	r.NodeSelector = kubetest.NodeSelector("no-such-node")
	r.Started = func(string) {
		go func() {
			for {
				p, err := cs.CoreV1().Pods(b.ns).Get(context.Background(), "pend-1", metav1.GetOptions{})
				if err == nil && len(p.Status.Conditions) > 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			_ = cs.CoreV1().Pods(b.ns).Delete(context.Background(), "pend-1", metav1.DeleteOptions{})
		}()
	}
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "was deleted") {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	b.gone("pend-1")
}

// TestRunPodTemplateCannotOverride: a pod_template's restartPolicy and
// its task container's image and command give way to the task's.
func TestRunPodTemplateCannotOverride(t *testing.T) {
	b := setup(t)
	r := b.request("tmpl-2", `echo "from the task"`)
	r.PodTemplate = []byte(`{"spec":{"restartPolicy":"Always","terminationGracePeriodSeconds":300,` +
		`"containers":[{"name":"task","image":"no-such/image:1","command":["false"],"terminationMessagePath":"/tmp/x"}]}}`)
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptSuccess || !strings.Contains(b.log.text(), "o from the task") {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	b.gone("tmpl-2")
}

// TestRunAdoptsItsOwnPod: a Pod of the attempt's name with its attempt
// and lease labels (a create whose answer was lost, then retried) is the
// attempt's: Run follows it to its end and deletes it.
func TestRunAdoptsItsOwnPod(t *testing.T) {
	b := setup(t)
	b.ownPod(t, "own-1")
	res := b.c.Run(context.Background(), b.request("own-1", "echo new"))
	if res.State != sluice.AttemptSuccess || !strings.Contains(b.log.text(), "o adopted") {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	b.gone("own-1")
}

// TestRunAdoptsItsOwnEndedPod: the attempt's own Pod that ended before
// Run subscribed to its events (the informer saw its last change with no
// one waiting) still ends the attempt, instead of waiting for an event
// that never comes.
func TestRunAdoptsItsOwnEndedPod(t *testing.T) {
	b := setup(t)
	b.ownPod(t, "own-2")
	cs := kubetest.Clientset(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := cs.CoreV1().Pods(b.ns).Get(context.Background(), "own-2", metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod did not end: %v %+v", err, p.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r := b.request("own-2", "echo new")
	r.Timeout = 20 * time.Second
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptSuccess || !strings.Contains(b.log.text(), "o adopted") {
		t.Fatalf("result %+v\nlog:\n%s", res, b.log.text())
	}
	b.gone("own-2")
}

// TestRunUnwatchableNamespace: a namespace whose Pods cannot be listed
// fails the attempt with the reason the list gave.
func TestRunUnwatchableNamespace(t *testing.T) {
	b := setup(t)
	r := b.request("unw-1", "echo hi")
	r.Namespace = "bad/ns"
	start := time.Now()
	res := b.c.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, `invalid namespace "bad/ns"`) {
		t.Fatalf("result %+v after %s", res, time.Since(start))
	}
}

// ownPod creates a Pod of the attempt's name (attempt, run and lease 1)
// with the labels Run gives its own, as a create whose answer was lost
// leaves it; its container echoes "adopted".
func (b *bundle) ownPod(t *testing.T, name string) {
	t.Helper()
	cs := kubetest.Clientset(t)
	mine := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			kube.LabelAttempt: "1", kube.LabelRun: "1", kube.LabelLease: "1", kube.LabelWorker: kube.LabelValue("test:" + t.Name())}},
		Spec: corev1.PodSpec{NodeSelector: kubetest.NodeSelector(kubetest.RealNode), RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "task", Image: kubetest.Image, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/sh", "-c", "echo adopted"}}}},
	}
	if _, err := cs.CoreV1().Pods(b.ns).Create(context.Background(), mine, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
