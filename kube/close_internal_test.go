package kube

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/kubetest"
)

// TestCloseLeavesNothingRunning: on the real cluster, Close ends the
// watch's goroutines and the connections they used before it returns,
// and a Client closed starts no watch. Not parallel: it counts the
// process's goroutines (the parallel tests are paused meanwhile).
func TestCloseLeavesNothingRunning(t *testing.T) {
	path := kubetest.Require(t)
	ns := kubetest.Namespace(t)
	before := runtime.NumGoroutine()
	c, err := Open(Config{Kubeconfig: path, Namespace: ns, Worker: "test:" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.watchNamespace(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("%d goroutines with a watch, %d before it", n, before)
	}
	c.Close()
	// Goroutines that were ending as Close returned may still be seen a
	// moment: wait for them, but not for the 90 s an idle connection
	// would otherwise be kept.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.watchNamespace(context.Background(), ns); err == nil {
		t.Fatal("a closed Client watched")
	}
}
