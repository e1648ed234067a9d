package kube_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
)

// sink keeps the lines of an attempt's log.
type sink struct {
	mu    sync.Mutex
	lines []string
}

func (s *sink) Line(stream executor.Stream, _ time.Time, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stream != executor.System {
		s.lines = append(s.lines, string(line))
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
	logs := &sink{}
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
	logs.mu.Lock()
	got := strings.Join(logs.lines, "\n")
	logs.mu.Unlock()
	if strings.Count(got, "fake log line from kwok") != 1 {
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
