package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/internal/enginetest"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestRunContainerAttempt runs one claimed attempt's container as the
// worker does: the run context, env templates and secrets reach it, and
// not the worker's own environment; outputs come back through the mounted
// $SLUICE_OUTPUT; its lines reach the attempt's log, secrets masked; its
// relative volume is the pipeline file's folder.
func TestRunContainerAttempt(t *testing.T) {
	host := enginetest.Require(t)
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("from the pipeline folder\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "id: ctr\nparams:\n  who: {type: string, default: world}\ntasks:\n  t:\n    run: 'true'\n    env: {GREETING: 'hello ${{ params.who }}'}\n"
	file := filepath.Join(dir, "p.yaml")
	p, err := pipeline.Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(src), file))
	if err != nil {
		t.Fatal(err)
	}
	params, _ := json.Marshal(map[string]any{"who": "container"})
	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "ctr", VersionID: saved.VersionID, Key: "k", Kind: store.RunManual,
		LogicalDate: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), Params: params})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := st.InstanceClaim(ctx, &store.InstanceClaimParams{Worker: "w", Limit: 1, LeaseDuration: time.Minute})
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claims))
	}
	w, err := New(Config{Store: st, ID: "w", ContainerHost: host, KillGrace: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.tmpDir = t.TempDir() // Run makes it; this test runs one attempt by hand
	w.connectEngine(ctx)
	if w.engine == nil {
		t.Fatal("the worker did not reach the engine")
	}
	defer w.engine.Close()
	if !hasLabel(w.labels, "container") {
		t.Errorf("labels %v lack container", w.labels)
	}

	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a := &attempt{claim: claims[0], ctx: actx, cancel: cancel}
	a.logs = newLogShipper(w, a)
	secrets := []openedSecret{{name: "API_TOKEN", value: "tok-8f3a9c2d71"}}
	a.mask = maskerOf(secrets)
	a.logs.setMask(a.mask)
	v, err := w.versions.Get(ctx, claims[0].VersionID)
	if err != nil {
		t.Fatal(err)
	}
	task := v.Pipeline.Tasks["t"]
	task.Run = `echo "$GREETING run=$SLUICE_RUN_ID task=$SLUICE_TASK ds=$SLUICE_DS out=$SLUICE_OUTPUT"
echo "path=$PATH"
echo "token $API_TOKEN" >&2
cat /in/in.txt
echo "answer=42" >> "$SLUICE_OUTPUT"`
	x, err := w.newExprContext(actx, v, task, claims[0], secrets)
	if err != nil {
		t.Fatal(err)
	}
	task.Kind, task.Container = pipeline.KindContainer, &pipeline.Container{Image: enginetest.Image(), Pull: pipeline.PullNever, Volumes: []string{".:/in:ro"}}
	res := w.runContainer(a, x, v, task, secrets)
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("state %s: %s", res.State, res.Error)
	}
	if res.Outputs["answer"] != "42" {
		t.Errorf("outputs %v", res.Outputs)
	}
	// What was shipped every 250ms, then the last chunk.
	var sb strings.Builder
	a.logs.flush()
	shipped, err := st.LogList(ctx, claims[0].AttemptID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range shipped {
		sb.Write(c.Data)
	}
	if last := a.logs.final(); last != nil {
		sb.Write(last.Data)
	}
	log := sb.String()
	for _, want := range []string{
		" o hello container run=" + itoa(run.ID) + " task=t ds=2026-12-04 out=/sluice/output\n",
		" e token ***\n",
		" o from the pipeline folder\n",
		" s starting container ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "path="+os.Getenv("PATH")+"\n") {
		t.Errorf("the worker's own PATH reached the container:\n%s", log)
	}
	if strings.Contains(log, "tok-8f3a9c2d71") {
		t.Errorf("the secret is in the log:\n%s", log)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
