package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// TestAssetChainExamples runs the asset chain of the examples through the
// real binary: asset_chain_extract produces raw.orders (with extras),
// asset_chain_transform runs on it and produces warehouse.orders,
// asset_chain_report runs on that (or on both CRM tables, sent with the
// CLI). Each run's trigger events are read through the API.
func TestAssetChainExamples(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for _, name := range []string{"asset_chain_extract.yaml", "asset_chain_transform.yaml", "asset_chain_report.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	s := startCLIServer(t, files)
	for _, id := range []string{"asset_chain_extract", "asset_chain_transform", "asset_chain_report"} {
		waitFor(t, 30*time.Second, id+" to load", s.logs, func() bool { return s.cli(t, "pipelines", "show", id).code == 0 })
	}
	token, err := os.ReadFile(filepath.Join(s.dir, ".sluice", "cli-token"))
	if err != nil {
		t.Fatal(err)
	}
	getJSON := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	// assetRun waits for the n-th asset run of a pipeline to succeed and
	// returns its detail.
	assetRun := func(pipeline string, n int) api.RunDetail {
		t.Helper()
		var run api.Run
		waitFor(t, 60*time.Second, fmt.Sprintf("asset run %d of %s", n, pipeline), s.logs, func() bool {
			var page api.RunList
			getJSON("/api/v1/runs?pipeline="+pipeline, &page)
			var asset []api.Run
			for _, r := range page.Runs {
				if r.Kind == "asset" {
					asset = append(asset, r)
				}
			}
			if len(asset) < n {
				return false
			}
			run = asset[len(asset)-n] // newest first
			return true
		})
		s.cli(t, "runs", "show", fmt.Sprint(run.ID), "--wait").want(t, 0, "success")
		var d api.RunDetail
		getJSON(fmt.Sprintf("/api/v1/runs/%d", run.ID), &d)
		return d
	}

	// The report waits for CRM tables nothing produces: warnings, shown
	// by status, and the pipeline loads and runs all the same.
	s.eventually(t, "no pipeline produces crm.accounts", "pipelines", "status").want(t, 0, "ok, with warnings",
		"asset_chain_report: warnings about its assets", "no pipeline produces crm.accounts", "no pipeline produces crm.customers")

	extract := runID(t, s.cli(t, "pipelines", "trigger", "asset_chain_extract").want(t, 0))
	transform := assetRun("asset_chain_transform", 1)
	if evs := transform.TriggerEvents; len(evs) != 1 || evs[0].Asset != "raw.orders" || evs[0].Pipeline != "asset_chain_extract" ||
		evs[0].Task != "pull" || evs[0].RunID == nil || *evs[0].RunID != extract || evs[0].Extra["rows"] != "3" || evs[0].Extra["day"] == "" {
		t.Fatalf("transform's trigger events = %+v, want extract/pull of run %d with rows=3 and day", evs, extract)
	}
	report := assetRun("asset_chain_report", 1)
	if evs := report.TriggerEvents; len(evs) != 1 || evs[0].Asset != "warehouse.orders" || evs[0].Pipeline != "asset_chain_transform" ||
		evs[0].RunID == nil || *evs[0].RunID != transform.ID || evs[0].Extra["rows"] != "3" {
		t.Fatalf("report's trigger events = %+v, want transform/build of run %d with rows=3", evs, transform.ID)
	}
	s.cli(t, "logs", fmt.Sprint(report.ID), "render").want(t, 0, "because of warehouse.orders")

	// The other branch of the report's any: both CRM tables, from outside.
	r := s.cli(t, "assets", "emit", "crm.customers", "--json").want(t, 0)
	var res api.AssetEventResult
	r.decode(t, &res)
	if len(res.Runs) != 0 {
		t.Fatalf("crm.customers alone started %+v", res.Runs)
	}
	s.cli(t, "assets", "emit", "crm.accounts", "--extra", "source=crm").want(t, 0, "started run")
	second := assetRun("asset_chain_report", 2)
	if evs := second.TriggerEvents; len(evs) != 2 || evs[0].Asset != "crm.accounts" || evs[0].Extra["source"] != "crm" || evs[1].Asset != "crm.customers" || evs[0].RunID != nil {
		t.Fatalf("second report's trigger events = %+v, want crm.accounts and crm.customers from outside", evs)
	}
	// A manual run has none.
	var d api.RunDetail
	getJSON(fmt.Sprintf("/api/v1/runs/%d", extract), &d)
	if d.TriggerEvents == nil || len(d.TriggerEvents) != 0 {
		t.Fatalf("extract's trigger events = %#v, want []", d.TriggerEvents)
	}
}
