package docker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/internal/enginetest"
)

// testLabel marks every container these tests start, with the test's name
// as its value, so each test can check it left none behind.
const testLabel = "dev.sluice.test"

type testBundle struct {
	t      *testing.T
	engine *docker.Engine
	image  string
	log    *lines
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	host := enginetest.Require(t)
	t.Parallel()
	e, err := docker.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{t: t, engine: e, image: enginetest.Image(), log: &lines{}}
	t.Cleanup(func() {
		defer e.Close()
		left, err := e.Containers(context.Background(), testLabel)
		if err != nil {
			t.Errorf("list containers: %v", err)
			return
		}
		for _, c := range left {
			if c.Labels[testLabel] == t.Name() {
				t.Errorf("container %s (%s) left behind", c.ID[:12], c.Name)
				_ = e.Remove(context.Background(), c.ID, 0)
			}
		}
	})
	return b
}

// request is a request for the test image with sh -c script, labelled
// for the test.
func (b *testBundle) request(script string) *docker.Request {
	return &docker.Request{
		Image:     b.image,
		Pull:      docker.PullNever,
		Cmd:       []string{"sh", "-c", script},
		Labels:    map[string]string{testLabel: b.t.Name()},
		KillGrace: time.Second,
		Log:       b.log,
	}
}

type line struct {
	stream executor.Stream
	text   string
}

type lines struct {
	mu sync.Mutex
	l  []line
}

func (l *lines) Line(s executor.Stream, _ time.Time, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, line{s, string(b)})
}

// of returns the lines of one stream.
func (l *lines) of(s executor.Stream) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, x := range l.l {
		if x.stream == s {
			out = append(out, x.text)
		}
	}
	return out
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, x := range l.l {
		fmt.Fprintf(&b, "%c %s\n", x.stream, x.text)
	}
	return b.String()
}

func TestRunStreamsAndExitCode(t *testing.T) {
	b := setup(t)
	res := b.engine.Run(context.Background(), b.request(`echo one; echo two >&2; printf 'no newline'; exit 3`))
	if res.State != sluice.AttemptFailed || res.ExitCode == nil || *res.ExitCode != 3 {
		t.Fatalf("state %s, exit %v, error %q; want failed with code 3", res.State, res.ExitCode, res.Error)
	}
	if res.Error != "exited with code 3" {
		t.Errorf("error %q", res.Error)
	}
	if got := strings.Join(b.log.of(executor.Stdout), "|"); got != "one|no newline" {
		t.Errorf("stdout %q; log:\n%s", got, b.log)
	}
	if got := strings.Join(b.log.of(executor.Stderr), "|"); got != "two" {
		t.Errorf("stderr %q; log:\n%s", got, b.log)
	}
	if sys := strings.Join(b.log.of(executor.System), "|"); !strings.Contains(sys, "starting container") {
		t.Errorf("system lines %q", sys)
	}
}

func TestRunSuccessWithOutputs(t *testing.T) {
	b := setup(t)
	out := filepath.Join(t.TempDir(), "output")
	r := b.request(`echo "greeting=hello $WHO" >> "$SLUICE_OUTPUT"; printf 'multi<<EOF\na\nb\nEOF\n' >> "$SLUICE_OUTPUT"; pwd; id -u`)
	r.Env = []string{"WHO=container", "SLUICE_OUTPUT=" + docker.OutputPath}
	r.OutputFile = out
	r.Workdir = "/tmp"
	r.User = "65534:65534" // outputs must work for any user
	var started string
	r.Started = func(id string) { started = id }
	res := b.engine.Run(context.Background(), r)
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("state %s: %s; log:\n%s", res.State, res.Error, b.log)
	}
	if res.Outputs["greeting"] != "hello container" || res.Outputs["multi"] != "a\nb" {
		t.Errorf("outputs %q", res.Outputs)
	}
	if got := strings.Join(b.log.of(executor.Stdout), "|"); got != "/tmp|65534" {
		t.Errorf("stdout %q, want workdir and user", got)
	}
	if len(started) < 12 {
		t.Errorf("Started got %q", started)
	}
}

func TestRunEntrypointVolumesNetworkLimits(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := b.request("")
	r.Entrypoint = []string{"/bin/sh", "-c"}
	r.Cmd = []string{`cat /data/in.txt; ls /sys/class/net | tr '\n' ' '; echo; echo x > /ro/f || echo read-only`}
	r.Volumes = []string{dir + ":/data", dir + ":/ro:ro"}
	r.Network = "none"
	r.CPUs = 0.5
	r.Memory = 64 << 20
	res := b.engine.Run(context.Background(), r)
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("state %s: %s; log:\n%s", res.State, res.Error, b.log)
	}
	out := b.log.of(executor.Stdout)
	if len(out) != 3 || out[0] != "from the host" || strings.TrimSpace(out[1]) != "lo" || out[2] != "read-only" {
		t.Errorf("stdout %q; want the mounted file, only lo with network none, a read-only mount", out)
	}
}

func TestRunTimeoutKillsAfterGrace(t *testing.T) {
	b := setup(t)
	// sh as PID 1 ignores SIGTERM: the engine must kill it after the grace.
	r := b.request(`echo started; sleep 60`)
	r.Timeout = time.Second
	start := time.Now()
	res := b.engine.Run(context.Background(), r)
	if res.State != sluice.AttemptTimedOut {
		t.Fatalf("state %s: %s", res.State, res.Error)
	}
	if !strings.Contains(res.Error, "timed out after 1s") || !strings.Contains(res.Error, "killed it after 1s") {
		t.Errorf("error %q", res.Error)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s", took)
	}
	if got := b.log.of(executor.Stdout); len(got) != 1 || got[0] != "started" {
		t.Errorf("stdout %q", got)
	}
}

func TestRunTimeoutStopsGracefully(t *testing.T) {
	b := setup(t)
	r := b.request(`trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 0.1; done`)
	r.Timeout = time.Second
	r.KillGrace = 10 * time.Second
	res := b.engine.Run(context.Background(), r)
	// The message says it stopped within the 10s grace, without a kill.
	if res.State != sluice.AttemptTimedOut || res.Error != "timed out after 1s: stopped its container" {
		t.Fatalf("state %s: %q", res.State, res.Error)
	}
	if got := strings.Join(b.log.of(executor.Stdout), "|"); got != "started|got TERM" {
		t.Errorf("stdout %q", got)
	}
}

func TestRunStoppedByContext(t *testing.T) {
	b := setup(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	r := b.request(`echo started; sleep 60`)
	r.Started = func(string) {
		go func() {
			time.Sleep(300 * time.Millisecond) // let it print
			cancel(errors.New("lease lost"))
		}()
	}
	res := b.engine.Run(ctx, r)
	if res.State != sluice.AttemptFailed || !res.Stopped || !strings.Contains(res.Error, "stopped (lease lost)") {
		t.Fatalf("state %s, stopped %v: %q", res.State, res.Stopped, res.Error)
	}
}

func TestRunImageErrors(t *testing.T) {
	b := setup(t)
	for _, tc := range []struct {
		name  string
		image string
		pull  docker.Pull
		want  string
	}{
		{"never and missing", "localhost/sluice-test:absent", docker.PullNever, "image localhost/sluice-test:absent is not on the container engine and pull is never"},
		// There is no registry at 127.0.0.1:9: the pull fails at once.
		{"pull fails", "127.0.0.1:9/sluice/absent:1", docker.PullMissing, "cannot pull image 127.0.0.1:9/sluice/absent:1: "},
		{"always pulls", "127.0.0.1:9/sluice/absent:1", docker.PullAlways, "cannot pull image 127.0.0.1:9/sluice/absent:1: "},
		{"bad reference", "Not A Reference", docker.PullMissing, `image "Not A Reference" is not an image reference: invalid reference format`},
	} {
		r := b.request("true")
		r.Image, r.Pull = tc.image, tc.pull
		res := b.engine.Run(context.Background(), r)
		if res.State != sluice.AttemptFailed || res.Stopped || !strings.HasPrefix(res.Error, tc.want) {
			t.Errorf("%s: state %s, stopped %v, error %q; want failed with %q", tc.name, res.State, res.Stopped, res.Error, tc.want)
		}
	}
}

func TestRunCommandNotInImage(t *testing.T) {
	b := setup(t)
	r := b.request("")
	r.Cmd = []string{"/no/such/program"}
	res := b.engine.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || res.Stopped {
		t.Fatalf("state %s, stopped %v: %q", res.State, res.Stopped, res.Error)
	}
	if !strings.Contains(res.Error, "/no/such/program") {
		t.Errorf("error %q does not name the program", res.Error)
	}
}

func TestContainersAndRemove(t *testing.T) {
	b := setup(t)
	r := b.request(`sleep 60`)
	r.Labels["dev.sluice.attempt"] = "42"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make(chan string, 1)
	r.Started = func(id string) { ids <- id }
	done := make(chan *executor.Result, 1)
	go func() { done <- b.engine.Run(ctx, r) }()
	id := <-ids
	list, err := b.engine.Containers(context.Background(), testLabel)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range list {
		if c.ID == id {
			found = true
			if !c.Running || c.Labels["dev.sluice.attempt"] != "42" {
				t.Errorf("container %+v", c)
			}
		}
	}
	if !found {
		t.Fatalf("container %s not listed in %+v", id, list)
	}
	// Another worker removes it (its attempt ended): the run ends.
	if err := b.engine.Remove(context.Background(), id, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.Remove(context.Background(), id, time.Second); err != nil {
		t.Errorf("removing a removed container: %v", err)
	}
	select {
	case res := <-done:
		if res.State == sluice.AttemptSuccess {
			t.Errorf("a removed container succeeded: %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its container was removed")
	}
}

func TestRunOutOfMemory(t *testing.T) {
	b := setup(t)
	// The shell holds 128 MiB in a variable.
	r := b.request(`x=$(head -c 134217728 /dev/zero | tr "\\0" a); echo ${#x}`)
	r.Memory = 16 << 20
	res := b.engine.Run(context.Background(), r)
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "out of memory") {
		t.Fatalf("state %s: %q; want failed, out of memory", res.State, res.Error)
	}
}
