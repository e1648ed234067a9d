package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/capacity/capacitytest"
)

// TestCLICapacity runs `sluice capacity` against a server whose data dir
// was seeded with 30 days of synthetic history ending today (UTC).
func TestCLICapacity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := capacitytest.SeedDir(context.Background(), filepath.Join(dir, ".sluice"), capacitytest.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	pipes := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, dir, []string{"SLUICE_ADMIN_PASSWORD=admin-password"}, "--home", ".sluice", "--pipelines", pipes, "--poll", "100ms")
	waitFile(t, filepath.Join(dir, ".sluice", "cli-token"), 30*time.Second, srv.logs)
	s := &cliServer{server: srv, dir: dir, pipes: pipes, env: []string{"SLUICE_SERVER=" + srv.url, "SLUICE_TOKEN=", "SLUICE_HOME="}}

	r := s.cli(t, "capacity", "--threshold", "daily_orders.load.rows=5M").want(t, 0,
		"Capacity over 28 days", "UTC days; today is left out",
		"Forecasts, most urgent first:",
		"at this growth, pool `warehouse` is full from ",
		"at this growth, runs of `events` take longer than their schedule interval (2h) from ",
		"runs of `ml_features` are not growing toward their schedule interval (6h)",
		"metric `rows` of `daily_orders.load` passes 5M from",
		"PIPELINE", "daily_orders", "0 3 * * *", "24h",
		"POOL", "warehouse", "BUSIEST HOUR",
		"VOLUME", "daily_orders.load.rows", "events.ingest.events")
	t.Logf("sluice capacity:\n%s", r.stdout)
	if strings.Contains(r.stdout, "Forecast a volume with --threshold") {
		t.Error("suggests a threshold although one was given")
	}

	var rep api.Capacity
	s.cli(t, "capacity", "--json", "--pipeline", "events", "--days", "14").want(t, 0).decode(t, &rep)
	if rep.Days != 14 || len(rep.Pipelines) != 1 || rep.Pipelines[0].ID != "events" || rep.Pipelines[0].Overrun == nil || len(rep.Pools) != 2 {
		t.Errorf("--json --pipeline events --days 14: %+v", rep)
	}

	s.cli(t, "capacity", "--threshold", "daily_orders.load.bytes=1G").want(t, 1, "no task reported the metric daily_orders.load.bytes", "metrics reported: daily_orders.load.rows")
	s.cli(t, "capacity", "--threshold", "rows=1G").want(t, 2, "pipeline.task.metric")
	s.cli(t, "capacity", "--days", "400").want(t, 2, "want a whole number from 1 to 366")
	s.cli(t, "capacity", "--pipeline", "nope").want(t, 1, "nope")
	s.cli(t, "capacity", "extra").want(t, 2, "sluice capacity --help")
}

// TestCLICapacityNoHistoryYet: 'sluice capacity' on a server whose
// scheduled pipeline has not run yet says so, and what to do.
func TestCLICapacityNoHistoryYet(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{"later.yaml": "id: later\nschedule: \"@daily\"\nstart: 2099-01-01\ntasks:\n  a:\n    run: echo hi\n"})
	r := s.cli(t, "capacity").want(t, 0, "UNKNOWN", "`later` has not run yet: no history to forecast from", "come back once its schedule has run it that long")
	if strings.Contains(r.stdout, "did not succeed") {
		t.Fatalf("says runs failed:\n%s", r.stdout)
	}
}
