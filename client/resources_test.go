package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

// Pools, secrets, variables, workers, backfills, mapped items and
// deleting with the file, through the client.

func TestClientPoolsSecretsVariables(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"uses.yaml": `id: uses
tasks:
  call:
    secrets: [TOKEN]
    env: {WHERE: "${{ vars.where }}"}
    run: echo "token $TOKEN to $WHERE"
`})
	ctx, c := b.ctx, b.c

	p, err := c.SetPool(ctx, "warehouse", 3, "the warehouse")
	if err != nil || p.Name != "warehouse" || p.Slots != 3 || p.Description != "the warehouse" {
		t.Fatalf("SetPool = %+v, %v", p, err)
	}
	if pools, err := c.ListPools(ctx); err != nil || len(pools) != 1 || pools[0].Slots != 3 {
		t.Fatalf("ListPools = %+v, %v", pools, err)
	}
	_, err = c.SetPool(ctx, "warehouse", -1, "")
	wantCode(t, err, sluice.EINVALID)
	if err := c.DeletePool(ctx, "warehouse"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeletePool(ctx, "warehouse"), sluice.ENOTFOUND)

	const value = "tok-5f0e1d2c3b4a"
	if err := c.SetSecret(ctx, "TOKEN", value); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.SetSecret(ctx, "TOKEN", ""), sluice.EINVALID)
	secrets, err := c.ListSecrets(ctx)
	if err != nil || len(secrets) != 1 || secrets[0].Name != "TOKEN" {
		t.Fatalf("ListSecrets = %+v, %v", secrets, err)
	}
	v, err := c.SetVariable(ctx, "where", "s3://data")
	if err != nil || v.Value != "s3://data" {
		t.Fatalf("SetVariable = %+v, %v", v, err)
	}
	if v, err = c.GetVariable(ctx, "where"); err != nil || v.Value != "s3://data" {
		t.Fatalf("GetVariable = %+v, %v", v, err)
	}
	if vars, err := c.ListVariables(ctx); err != nil || len(vars) != 1 {
		t.Fatalf("ListVariables = %+v, %v", vars, err)
	}

	// A task gets both; its log masks the secret.
	run, err := c.Trigger(ctx, "uses", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := b.waitRun(run.ID); d.State != "success" {
		t.Fatalf("run = %+v", d)
	}
	lines, err := c.Logs(ctx, run.ID, "call", 0)
	if err != nil || len(lines) != 1 || lines[0].Line != "token *** to s3://data" {
		t.Fatalf("Logs = %+v, %v", lines, err)
	}

	if err := c.DeleteSecret(ctx, "TOKEN"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteVariable(ctx, "where"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetVariable(ctx, "where")
	wantCode(t, err, sluice.ENOTFOUND)
}

func TestClientBackfillsWorkersItems(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{
		"daily.yaml": "id: daily\nschedule: \"@daily\"\ntasks:\n  a:\n    run: echo \"$SLUICE_DS\"\n",
		"mapped.yaml": `id: mapped
tasks:
  each:
    for_each: [red, green]
    run: echo "colour $SLUICE_ITEM"
`,
	})
	ctx, c := b.ctx, b.c

	waitFor(t, "the worker", func() bool {
		ws, err := c.ListWorkers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(ws) == 1 && ws[0].Alive
	})

	req := api.BackfillRequest{From: "2025-02-01", To: "2025-02-03"}
	dates, err := c.BackfillDates(ctx, "daily", req)
	if err != nil || len(dates.Dates) != 3 || dates.Timezone != "UTC" {
		t.Fatalf("BackfillDates = %+v, %v", dates, err)
	}
	bf, err := c.Backfill(ctx, "daily", req)
	if err != nil || bf.Total != 3 || bf.Skipped == nil || *bf.Skipped != 0 {
		t.Fatalf("Backfill = %+v, %v", bf, err)
	}
	waitFor(t, "the backfill", func() bool {
		if bf, err = c.GetBackfill(ctx, bf.ID); err != nil {
			t.Fatal(err)
		}
		return bf.State == "done"
	})
	if bf.Runs["success"] != 3 {
		t.Fatalf("done = %+v", bf)
	}
	if list, err := c.ListBackfills(ctx, "daily"); err != nil || len(list) != 1 || list[0].ID != bf.ID {
		t.Fatalf("ListBackfills = %+v, %v", list, err)
	}
	_, err = c.CancelBackfill(ctx, bf.ID)
	wantCode(t, err, sluice.ECONFLICT)
	_, err = c.Backfill(ctx, "daily", api.BackfillRequest{From: "2025-02-03", To: "2025-02-01"})
	wantCode(t, err, sluice.EINVALID)

	// The items of a mapped task: each with its detail and its log.
	run, err := c.Trigger(ctx, "mapped", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := b.waitRun(run.ID)
	if d.State != "success" || d.Tasks[0].ItemsTotal != 2 || len(d.Tasks[0].Items) != 2 {
		t.Fatalf("run = %+v", d)
	}
	item, err := c.GetTaskItem(ctx, run.ID, "each", 1)
	if err != nil || item.Item == nil || *item.Item != "green" || len(item.Attempts) != 1 {
		t.Fatalf("GetTaskItem = %+v, %v", item, err)
	}
	lines, err := c.ItemLogs(ctx, run.ID, "each", 1, 0)
	if err != nil || len(lines) != 1 || lines[0].Line != "colour green" {
		t.Fatalf("ItemLogs = %+v, %v", lines, err)
	}
	var followed []string
	end, err := c.FollowItemLogs(ctx, run.ID, "each", 0, 0, func(l api.LogLine) { followed = append(followed, l.Line) })
	if err != nil || end.State != "success" || strings.Join(followed, "|") != "colour red" {
		t.Fatalf("FollowItemLogs = %+v %v, %v", end, followed, err)
	}
	_, err = c.ItemLogs(ctx, run.ID, "each", 5, 0)
	wantCode(t, err, sluice.ENOTFOUND)

	// A pipeline whose file is in the folder goes with its file.
	wantCode(t, c.DeletePipeline(ctx, "mapped"), sluice.ECONFLICT)
	if err := c.DeletePipelineAndFile(ctx, "mapped"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.pipes, "mapped.yaml")); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}
	_, err = c.GetPipeline(ctx, "mapped")
	wantCode(t, err, sluice.ENOTFOUND)
}

// TestInternalErrorNamesTheRequest checks that a 500, whose message says
// nothing, names the request whose log lines tell what happened.
func TestInternalErrorNamesTheRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.RequestIDHeader, "f00dfeed")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error": {"code": "internal", "message": "internal error"}}`)
	}))
	defer srv.Close()
	_, err := client.New(srv.URL, "").ListPools(context.Background())
	if e := wantCode(t, err, sluice.EINTERNAL); !strings.Contains(e.Message, "f00dfeed") {
		t.Fatalf("message %q", e.Message)
	}
}
