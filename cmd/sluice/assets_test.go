package main_test

import (
	"strconv"
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
	s.cli(t, "runs", "show", strconv.FormatInt(id, 10)).want(t, 0, "triggered by  assets s3://lake/orders (event 1)")
	var res api.AssetEventResult
	s.cli(t, "assets", "emit", "s3://lake/orders", "--json").want(t, 0).decode(t, &res)
	if len(res.Runs) != 1 || res.Runs[0].ID == id || res.Runs[0].Kind != "asset" {
		t.Fatalf("second emit = %+v, want a second asset run", res)
	}
	s.cli(t, "assets", "events", "s3://lake/orders").want(t, 0, "outside", "rows=12")
	s.cli(t, "assets", "emit", "s3://lake/orders", "--extra", "nokey").want(t, 2, "want key=value")
	s.cli(t, "assets", "emit", "bad name").want(t, 1, "not a valid name")
	// With --key, a script that sends again records nothing new.
	s.cli(t, "assets", "emit", "s3://lake/orders", "--key", "drop-2026-12-04").want(t, 0, "recorded event", "started run")
	s.cli(t, "assets", "emit", "s3://lake/orders", "--key", "drop-2026-12-04").want(t, 0, "was recorded before with this key; nothing started")
}

// TestCLIAssetsListShow lists the assets and shows one through the real
// binary, as a table and as JSON, and names a missing one clearly.
func TestCLIAssetsListShow(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"make.yaml": "id: make\ntasks:\n  build:\n    run: \"true\"\n    produces: [warehouse.orders]\n",
		"use.yaml":  "id: use\nschedule: {assets: [warehouse.orders, \"s3://lake/k@v=1\"]}\ntasks:\n  t:\n    run: \"true\"\n",
	})
	waitFor(t, 30*time.Second, "use to load", s.logs, func() bool { return s.cli(t, "pipelines", "show", "use").code == 0 })
	s.cli(t, "assets", "list").want(t, 0, "ASSET", "LAST EVENT", "s3://lake/k@v=1", "warehouse.orders", "make.build", "use")
	s.cli(t, "assets", "emit", "s3://lake/k@v=1", "--extra", "rows=3").want(t, 0, "recorded event")
	s.cli(t, "assets", "show", "s3://lake/k@v=1").want(t, 0, "asset      s3://lake/k@v=1", "events     1 stored",
		"use (has a new event)", "outside", "rows=3")
	var list []api.Asset
	s.cli(t, "assets", "list", "--json").want(t, 0).decode(t, &list)
	if len(list) != 2 || list[0].Name != "s3://lake/k@v=1" || list[0].Events != 1 || list[1].Producers[0].Task != "build" {
		t.Fatalf("assets list --json = %+v", list)
	}
	var d api.AssetDetail
	s.cli(t, "assets", "show", "warehouse.orders", "--json").want(t, 0).decode(t, &d)
	if d.Name != "warehouse.orders" || len(d.ConsumerStatus) != 1 || d.ConsumerStatus[0].Fresh {
		t.Fatalf("assets show --json = %+v", d)
	}
	s.cli(t, "assets", "show", "no.such").want(t, 1, `asset "no.such" is unknown`)
}
