package kube_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
)

// outage is a TCP proxy to the test cluster's API server that can be cut:
// while it is, connections are closed as they come and those open are
// closed, as when the API server restarts or its load balancer has no
// backend.
type outage struct {
	ln   net.Listener
	to   string
	down atomic.Bool
	mu   sync.Mutex
	open []net.Conn
}

func newOutage(t *testing.T, to string) *outage {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outage{ln: ln, to: to}
	t.Cleanup(func() { ln.Close(); o.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if o.down.Load() {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			o.mu.Lock()
			o.open = append(o.open, c, s)
			o.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return o
}

// cut closes the connections open and refuses new ones until restore.
func (o *outage) cut() {
	o.down.Store(true)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.open {
		c.Close()
	}
	o.open = nil
}

func (o *outage) restore() { o.down.Store(false) }

// throughOutage returns a client of the test cluster whose connections go
// through an outage proxy, the proxy, and a namespace of the test's own.
func throughOutage(t *testing.T) (*kube.Client, *outage, string) {
	t.Helper()
	path := kubetest.Require(t)
	ns := kubetest.Namespace(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const server = "https://127.0.0.1:6443"
	if !strings.Contains(string(b), server) {
		t.Fatalf("the test kubeconfig's server is not %s", server)
	}
	o := newOutage(t, "127.0.0.1:6443")
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(b), server, "https://"+o.ln.Addr().String())), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := kube.Open(kube.Config{Kubeconfig: cfg, Namespace: ns, Worker: "test:" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, o, ns
}

// TestRunThroughAnOutage: the API server unreachable for 25 s while a
// Pod runs costs the attempt nothing: it succeeds, and the lines its
// container wrote during and after the outage reach the log.
func TestRunThroughAnOutage(t *testing.T) {
	t.Parallel()
	c, o, _ := throughOutage(t)
	logs := &lines{}
	seen := make(chan struct{})
	var once sync.Once
	logs.onLine = func(s string) {
		if strings.Contains(s, "before") {
			once.Do(func() { close(seen) })
		}
	}
	go func() {
		select {
		case <-seen:
		case <-time.After(time.Minute):
			return
		}
		o.cut()
		time.Sleep(25 * time.Second)
		o.restore()
	}()
	res := c.Run(context.Background(), &kube.Request{
		Name: "outage-1", Image: kubetest.Image, PullPolicy: "Never",
		Command:      []string{"/bin/sh", "-c"},
		Args:         []string{"echo before; sleep 10; echo during; sleep 20; echo after"},
		NodeSelector: kubetest.NodeSelector(kubetest.RealNode),
		Labels:       map[string]string{kube.LabelAttempt: "1", kube.LabelLease: "1"},
		KillGrace:    time.Second, Log: logs,
	})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("%s: %s\nlog:\n%s", res.State, res.Error, logs.text())
	}
	for _, want := range []string{"o before", "o during", "o after"} {
		if !strings.Contains(logs.text(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs.text())
		}
	}
}

// TestRunStartsThroughAShortOutage: an attempt that starts while the API
// server is away for a few seconds (it restarts) waits for it rather than
// failing: creating its Pod is tried again, which is safe as a Pod or
// Secret that exists already is adopted when it is the attempt's own.
func TestRunStartsThroughAShortOutage(t *testing.T) {
	t.Parallel()
	c, o, _ := throughOutage(t)
	run := func(name string) *executor.Result {
		return c.Run(context.Background(), &kube.Request{
			Name: name, Image: kubetest.Image, PullPolicy: "Never",
			Command: []string{"/bin/sh", "-c"}, Args: []string{"echo hi"},
			SecretEnv:    []string{"K=v"},
			NodeSelector: kubetest.NodeSelector(kubetest.RealNode),
			Labels:       map[string]string{kube.LabelAttempt: name, kube.LabelLease: "1"},
			KillGrace:    time.Second, Log: &lines{},
		})
	}
	// The namespace's watch is up before the outage.
	if res := run("short-1"); res.State != sluice.AttemptSuccess {
		t.Fatalf("before the outage: %s: %s", res.State, res.Error)
	}
	o.cut()
	go func() {
		time.Sleep(3 * time.Second)
		o.restore()
	}()
	if res := run("short-2"); res.State != sluice.AttemptSuccess {
		t.Fatalf("through a 3 s outage: %s: %s", res.State, res.Error)
	}
}
