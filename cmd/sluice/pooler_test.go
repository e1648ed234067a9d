package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
)

// TestBehindTransactionPooler runs a server and a second worker through
// PgBouncer in transaction mode, with three server connections for both
// processes' pools: with --no-listen they migrate the fresh database
// together, run a pipeline with a fan-out, a retry, logs and outputs to
// the end, and serve the API, keeping nothing on a connection beyond a
// transaction (no LISTEN, no named prepared statements, no session locks).
func TestBehindTransactionPooler(t *testing.T) {
	t.Parallel()
	direct := pgtest.Database(t)
	pooled := pgtest.TransactionPooler(t, direct)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	var b strings.Builder
	b.WriteString("id: pooled\nschedule: \"@every 24h\"\ntasks:\n")
	var parts []string
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "  part%d:\n    run: echo \"part %d\"; echo \"n=%d\" >> \"$SLUICE_OUTPUT\"\n", i, i, i)
		parts = append(parts, fmt.Sprintf("part%d", i))
	}
	fmt.Fprintf(&b, `  flaky:
    retries: 1
    retry_delay: 100ms
    run: test "$SLUICE_ATTEMPT" = 2
  join:
    depends_on: [flaky, %s]
    run: echo "sum=$((SLUICE_OUTPUT_PART3_N + SLUICE_OUTPUT_PART11_N))"
`, strings.Join(parts, ", "))
	writeFile(t, pipes, "pooled.yaml", b.String())

	common := []string{"--db", pooled, "--no-listen", "--poll", "200ms", "--listen", "127.0.0.1:0"}
	srv := startProc(t, dir, "server", append(common, "--pipelines", pipes, "--auth", "none", "--concurrency", "4")...)
	wrk := startProc(t, dir, "worker", append(common, "--concurrency", "4")...)
	base := srv.waitURL(t)
	wrk.waitURL(t)
	logs := func() string { return srv.logs() + "--- worker\n" + wrk.logs() }

	st := openPG(t, direct)
	runs := waitRuns(t, st, "pooled", 1, 60*time.Second, logs)
	ctx := context.Background()
	if runs[0].State != "success" {
		t.Fatalf("run %s:\n%s", runs[0].State, logs())
	}
	atts, err := st.AttemptListByRun(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var join *store.Attempt
	byTask := map[string][]string{}
	for _, a := range atts {
		byTask[a.TaskID] = append(byTask[a.TaskID], string(a.State))
		if a.TaskID == "join" {
			join = a
		}
	}
	if len(byTask) != 14 || strings.Join(byTask["flaky"], ",") != "failed,success" || join == nil {
		t.Fatalf("attempts by task: %v\n%s", byTask, logs())
	}
	chunks, err := st.LogList(ctx, join.ID, 0)
	if err != nil || len(chunks) == 0 || !strings.Contains(string(chunks[0].Data), "sum=14") {
		t.Fatalf("join's log: %+v, %v", chunks, err)
	}
	if code, body := httpGet(t, base+"/api/v1/runs?pipeline=pooled"); code != 200 || !strings.Contains(body, `"success"`) {
		t.Fatalf("GET /api/v1/runs = %d %s", code, body)
	}
	for _, p := range []*proc{wrk, srv} {
		if code := p.term(t); code != 0 {
			t.Fatalf("%s exited %d:\n%s", p.role, code, p.logs())
		}
	}
	for _, l := range []string{"prepared statement", "database unavailable"} {
		if strings.Contains(logs(), l) {
			t.Fatalf("%q in the logs:\n%s", l, logs())
		}
	}
}
