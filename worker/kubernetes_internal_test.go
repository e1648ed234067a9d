package worker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestRunPodBlocked runs one claimed attempt of a pod task that no node
// fits, as the worker does: the worker reaches the cluster and gets the
// label kubernetes, the task's instance shows the scheduler's reason as
// its blocked note while it waits, the timeout ends it, and the note is
// cleared with it; the attempt shows its Pod.
func TestRunPodBlocked(t *testing.T) {
	kubeconfig := kubetest.Require(t)
	t.Parallel()
	ns := kubetest.Namespace(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := "id: podb\ntasks:\n  t:\n    timeout: 6s\n    container:\n      image: " + kubetest.Image +
		"\n      pull: never\n      kubernetes: {node_selector: {pool: none-such}}\n    run: 'true'\n"
	p, err := pipeline.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), ""))
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "podb", VersionID: saved.VersionID, Key: "k", Kind: store.RunManual,
		LogicalDate: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := st.InstanceClaim(ctx, &store.InstanceClaimParams{Worker: "w", Limit: 1, LeaseDuration: time.Minute, Labels: []string{pipeline.KubernetesLabel}})
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claims))
	}
	w, err := New(Config{Store: st, ID: "w", Kubeconfig: kubeconfig, KubeNamespace: ns, KillGrace: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.tmpDir = t.TempDir()
	w.connectKube(ctx)
	if w.kube == nil || !hasLabel(w.labels, pipeline.KubernetesLabel) {
		t.Fatalf("the worker did not reach the cluster: labels %v", w.labels)
	}
	defer w.kube.Close()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a := &attempt{claim: claims[0], ctx: actx, cancel: cancel}
	a.logs = newLogShipper(w, a)
	v, err := w.versions.Get(ctx, claims[0].VersionID)
	if err != nil {
		t.Fatal(err)
	}
	task := v.Pipeline.Tasks["t"]
	x, err := w.newExprContext(actx, v, task, claims[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var state sluice.AttemptState
	go func() {
		defer close(done)
		state = w.runPod(a, x, v, task, nil).State
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		in, err := st.InstanceGet(ctx, run.ID, "t")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(in.Blocked, "pod unschedulable: 0/") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no blocked note while the pod waits: %q", in.Blocked)
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-done
	if state != sluice.AttemptTimedOut {
		t.Fatalf("state %s, want timed_out", state)
	}
	in, err := st.InstanceGet(ctx, run.ID, "t")
	if err != nil || in.Blocked != "" {
		t.Fatalf("blocked note after the attempt: %q, %v", in.Blocked, err)
	}
	atts, err := st.AttemptListByRun(ctx, run.ID)
	if err != nil || len(atts) != 1 || atts[0].Image != kubetest.Image || atts[0].ContainerID != "pod/"+ns+"/sluice-podb-t-"+itoa(claims[0].AttemptID) {
		t.Fatalf("attempt %+v, %v", atts[0], err)
	}
}
