package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// podsIn counts the Pods sluice made in ns, and those running.
func podsIn(t *testing.T, ns string) (running, all int) {
	t.Helper()
	list, err := kubetest.Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelAttempt})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		all++
		if p.Status.Phase == "Running" {
			running++
		}
	}
	return running, all
}

// A worker that loses the lease of a running pod task deletes its Pod and
// writes nothing more; one whose run is cancelled does the same.
func TestPodTaskLostLeaseAndCancel(t *testing.T) {
	kubeconfig := kubetest.Require(t)
	t.Parallel()
	ns := kubetest.Namespace(t)
	b := setup(t)
	src := func(id string) string {
		return strings.ReplaceAll(`id: ID
tasks:
  long:
    retries: 1
    retry_delay: 1h
    container: {image: IMAGE, pull: never, kubernetes: {node_selector: {kubernetes.io/hostname: NODE}}}
    run: sleep 60
`, "ID", id)
	}
	fill := strings.NewReplacer("IMAGE", kubetest.Image, "NODE", kubetest.RealNode)
	run := b.trigger(fill.Replace(src("pod_lost")))
	b.start(worker.Config{Kubeconfig: kubeconfig, KubeNamespace: ns, Lease: 300 * time.Millisecond, KillGrace: time.Second})
	b.waitFor("the pod to run", func() bool { r, _ := podsIn(t, ns); return r == 1 })
	if _, err := b.st.AttemptReap(b.ctx, &store.AttemptReapParams{Reason: "taken over by the test"}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the pod to be deleted", func() bool { _, all := podsIn(t, ns); return all == 0 })
	atts := b.attempts(run.ID, "long")
	if len(atts) != 1 || atts[0].State != sluice.AttemptLost || atts[0].Error != "taken over by the test" {
		t.Fatalf("the worker wrote after losing its lease: %+v", atts[0])
	}

	run = b.trigger(fill.Replace(src("pod_cancel")))
	b.waitFor("the second pod to run", func() bool { r, _ := podsIn(t, ns); return r == 1 })
	if err := b.st.RunCancel(b.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the cancelled run's pod to be deleted", func() bool { _, all := podsIn(t, ns); return all == 0 })
	if s := b.waitRun(run.ID); s != sluice.RunCancelled {
		t.Fatalf("run %s", s)
	}
}
