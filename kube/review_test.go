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
