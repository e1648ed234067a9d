// Package kubetest gives tests a real Kubernetes cluster: the one whose
// kubeconfig is $SLUICE_TEST_KUBECONFIG (.ci/run starts one with
// .ci/k8s-testenv.sh up: etcd, kube-apiserver, kube-scheduler, a kwok node
// and a real kubelet on containerd).
//
// Two nodes: RealNode runs real containers (logs, exit codes, OOM kills);
// FakeNode is kwok's, which moves Pods to Running and to Succeeded two
// seconds later without running anything, for tests of many Pods; it is
// tainted, so a Pod goes there only with FakeToleration. Tests
// pick one with NodeSelector, and use a namespace of their own.
//
// When no cluster is set or it does not answer, tests skip, except under
// CI=true, where a missing cluster fails them: CI must never pass by
// skipping.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The test cluster's nodes and image.
const (
	RealNode = "localhost"   // a real kubelet on containerd
	FakeNode = "kwok-node-0" // kwok: Pods succeed 2 s after they run, nothing runs
	// Image is a busybox image the real node has (no registry here); pull
	// policy Never or IfNotPresent.
	Image = "localhost/busybox:1"
)

// FakeToleration is the toleration of the fake node's taint, as a
// kubernetes: tolerations list (JSON, also YAML): only Pods with it go
// there, so a Pod that names no node runs on the real one.
const FakeToleration = `[{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]`

// NodeSelector places a Pod on node.
func NodeSelector(node string) map[string]string {
	return map[string]string{"kubernetes.io/hostname": node}
}

var (
	once       sync.Once
	kubeconfig string
	reason     string
)

// Require returns the test cluster's kubeconfig path, or skips the test
// (fails it under CI=true) when there is none, it does not answer, or a
// node is not ready.
func Require(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		kubeconfig = os.Getenv("SLUICE_TEST_KUBECONFIG")
		if kubeconfig == "" {
			reason = "no Kubernetes cluster for the Kubernetes pod task tests: set SLUICE_TEST_KUBECONFIG " +
				"(bash .ci/k8s-testenv.sh up starts one and prints its kubeconfig)"
			return
		}
		cs, err := clientset(kubeconfig)
		if err != nil {
			reason = "kubeconfig " + kubeconfig + ": " + err.Error()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, node := range []string{RealNode, FakeNode} {
			for {
				n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
				if err == nil && ready(n) {
					break
				}
				if ctx.Err() != nil {
					reason = "the test cluster's node " + node + " is not ready"
					if err != nil {
						reason += ": " + err.Error()
					}
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	})
	if reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(reason + "; a Kubernetes cluster is required under CI=true")
		}
		t.Skip(reason)
	}
	return kubeconfig
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func clientset(path string) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 200, 400
	return kubernetes.NewForConfig(rc)
}

// Clientset is a client of the test cluster, for a test to look at what
// sluice made.
func Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := clientset(Require(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Namespace creates a namespace for one test. It is not deleted after:
// the test cluster has no namespace controller to finish a deletion.
func Namespace(t testing.TB) string {
	t.Helper()
	cs := Clientset(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "t-" + hex.EncodeToString(b)
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}
