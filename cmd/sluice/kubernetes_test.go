package main_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// podsOf counts the Pods and Secrets sluice made in namespace ns.
func podsOf(t *testing.T, ns string) (running, pods, secrets int) {
	t.Helper()
	cs := kubetest.Clientset(t)
	pl, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelAttempt})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pl.Items {
		pods++
		if p.Status.Phase == "Running" {
			running++
		}
	}
	sl, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelAttempt})
	if err != nil {
		t.Fatal(err)
	}
	return running, pods, len(sl.Items)
}

// TestKubernetesPipelineWithRun runs, with sluice run, Pods on the real
// node beside shell tasks: outputs pass both ways, a secret reaches the
// Pod masked, a mapped pod task runs on the kwok node, and nothing is
// left in the namespace.
func TestKubernetesPipelineWithRun(t *testing.T) {
	kubeconfig := kubetest.Require(t)
	t.Parallel()
	ns := kubetest.Namespace(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "k8s.yaml", fmt.Sprintf(`id: k8s
tasks:
  count:
    run: echo "rows=41" >> "$SLUICE_OUTPUT"
  produce:
    depends_on: [count]
    container:
      image: %[1]s
      pull: never
      kubernetes:
        node_selector: {kubernetes.io/hostname: %[2]s}
        labels: {team: data}
    secrets: [API_TOKEN]
    env: {ROWS: "${{ tasks.count.outputs.rows }}"}
    run: |
      echo "pod got rows=$ROWS token=$API_TOKEN"
      echo "rows=$((ROWS + 1))" > "$SLUICE_OUTPUT"
  fan:
    depends_on: [produce]
    for_each: [a, b]
    container:
      image: %[1]s
      kubernetes:
        node_selector: {kubernetes.io/hostname: %[3]s}
        tolerations: %[4]s
    command: [sh, -c, 'echo "item $SLUICE_ITEM"']
  report:
    depends_on: [produce, fan]
    run: echo "report rows=$SLUICE_OUTPUT_PRODUCE_ROWS"
`, kubetest.Image, kubetest.RealNode, kubetest.FakeNode, kubetest.FakeToleration))
	home := filepath.Join(dir, "home")
	r := sluiceCmd(t, dir, nil, "run", file, "--home", home, "--kubeconfig", kubeconfig, "--kube-namespace", ns,
		"--secret", "API_TOKEN=hunter2-k8s-s3cret", "--kill-grace", "1s")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"| pod got rows=41 token=***", "| report rows=42"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "hunter2") {
		t.Errorf("the secret is in sluice run's output:\n%s", r.stdout)
	}
	if _, pods, secrets := podsOf(t, ns); pods != 0 || secrets != 0 {
		t.Errorf("%d pods and %d secrets left in %s", pods, secrets, ns)
	}
	st := openHome(t, home)
	runs, err := st.RunList(context.Background(), &store.RunListParams{PipelineID: "k8s"})
	if err != nil || len(runs) != 1 || runs[0].State != sluice.RunSuccess {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	atts, err := st.AttemptListByRun(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		if a.TaskID == "produce" && (a.Image != kubetest.Image || !strings.HasPrefix(a.ContainerID, "pod/"+ns+"/sluice-k8s-produce-")) {
			t.Errorf("produce's attempt shows image %q, pod %q", a.Image, a.ContainerID)
		}
	}
}

// TestKubernetesCrashRecovery kills a server with kill -9 while its pod
// tasks run on the real node. Their Pods outlive it; the restarted server
// deletes them (their attempts are over), retries every task once, and
// leaves no Pod or Secret behind. Each task records its runs in a folder
// of the node (the test's machine) mounted through pod_template.
func TestKubernetesCrashRecovery(t *testing.T) {
	kubeconfig := kubetest.Require(t)
	t.Parallel()
	ns := kubetest.Namespace(t)
	const n = 4
	dir, pipes, marks := crashFolders(t)
	var src strings.Builder
	src.WriteString("id: crash_pod\nschedule: \"@every 1h\"\ntasks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, `  t%d:
    retries: 1
    retry_delay: 1s
    secrets: [TOKEN]
    container:
      image: %s
      pull: never
      kubernetes:
        node_selector: {kubernetes.io/hostname: %s}
        pod_template:
          spec:
            volumes: [{name: marks, hostPath: {path: %q}}]
            containers: [{name: task, volumeMounts: [{name: marks, mountPath: /marks}]}]
    run: |
      touch /marks/$SLUICE_TASK-started-$SLUICE_ATTEMPT
      if [ "$SLUICE_ATTEMPT" = 1 ]; then sleep 600; fi
      echo "$SLUICE_ATTEMPT" >> /marks/$SLUICE_TASK-done
`, i, kubetest.Image, kubetest.RealNode, marks)
	}
	writeFile(t, pipes, "crash_pod.yaml", src.String())
	home := filepath.Join(dir, "home")
	// Each attempt gets a Secret of its own, left behind by the crash too.
	key := strings.Repeat("cd", 32)
	k, err := secret.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	st0, err := sqlite.Open(context.Background(), home, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st0.SecretSet(context.Background(), "TOKEN", box.Seal("TOKEN", []byte("t0ken-value"))); err != nil {
		t.Fatal(err)
	}
	st0.Close()
	env := []string{secret.EnvVar + "=" + key}
	args := []string{"--home", home, "--pipelines", pipes, "--kubeconfig", kubeconfig, "--kube-namespace", ns, "--lease", "3s", "--kill-grace", "1s"}
	s := startServer(t, dir, env, args...)
	deadline := time.Now().Add(120 * time.Second)
	for {
		if running, _, _ := podsOf(t, ns); running == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d pods did not start:\n%s", n, s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	if running, _, secrets := podsOf(t, ns); running != n || secrets != n {
		t.Fatalf("%d pods run and %d secrets are there after the crash, want the %d it left behind", running, secrets, n)
	}

	s2 := startServer(t, dir, env, args...)
	for i := 0; i < n; i++ {
		waitFile(t, filepath.Join(marks, fmt.Sprintf("t%d-done", i)), 120*time.Second, s2.logs)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		_, pods, secrets := podsOf(t, ns)
		if pods == 0 && secrets == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods and %d secrets left after the recovery:\n%s", pods, secrets, s2.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s2.stop()
	if !strings.Contains(s2.logs(), "deleting a pod whose attempt is over") || !strings.Contains(s2.logs(), "deleting a secret whose attempt is over") {
		t.Errorf("the restarted server did not say it deleted the pods and secrets left behind:\n%s", s2.logs())
	}
	checkRetriedOnce(t, openHome(t, home), "crash_pod", n, marks)
}
