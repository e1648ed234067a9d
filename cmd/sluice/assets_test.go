package main_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// TestCLIAssets sends an asset event with the CLI and sees the pipeline
// scheduled on it run.
func TestCLIAssets(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"consumer.yaml": "id: consumer\nschedule: {assets: [\"s3://lake/orders\"]}\ntasks:\n  use:\n    run: \"true\"\n",
	})
	waitFor(t, 30*time.Second, "consumer to load", s.logs, func() bool { return s.cli(t, "pipelines", "show", "consumer").code == 0 })
	s.cli(t, "assets", "events", "s3://lake/orders").want(t, 0, "No events yet")
	r := s.cli(t, "assets", "emit", "s3://lake/orders", "--extra", "rows=12").want(t, 0, "recorded event 1 of s3://lake/orders", "started run")
	id := runID(t, r)
	var res api.AssetEventResult
	s.cli(t, "assets", "emit", "s3://lake/orders", "--json").want(t, 0).decode(t, &res)
	if len(res.Runs) != 1 || res.Runs[0].ID == id || res.Runs[0].Kind != "asset" {
		t.Fatalf("second emit = %+v, want a second asset run", res)
	}
	s.cli(t, "assets", "events", "s3://lake/orders").want(t, 0, "outside", "rows=12")
	s.cli(t, "assets", "emit", "s3://lake/orders", "--extra", "nokey").want(t, 2, "want key=value")
	s.cli(t, "assets", "emit", "bad name").want(t, 1, "not a valid name")
}
