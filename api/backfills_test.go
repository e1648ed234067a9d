package api_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

const dailyPipeline = `id: daily
schedule: "0 3 * * *"
timezone: Europe/Warsaw
max_active_runs: 2
tasks:
  work:
    run: echo "day $SLUICE_DS"
`

func TestBackfills(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "gate")
	s := startServer(t, map[string]string{
		"daily.yaml":  dailyPipeline,
		"manual.yaml": manualPipeline,
		"broken.yaml": "id: broken\ntasks:\n  a:\n    runn: echo\n",
		// slow runs one at a time; its runs of March 2025 wait for the
		// gate (its scheduled run of today does not).
		"slow.yaml": fmt.Sprintf(`id: slow
schedule: "@daily"
max_active_runs: 1
tasks:
  wait:
    run: |
      case "$SLUICE_DS" in 2025-03-*) while [ ! -e %q ]; do sleep 0.05; done;; esac
`, gate),
	})
	viewer, operator := s.createToken("viewer"), s.createToken("operator")
	path := "/api/v1/pipelines/daily/backfills"

	// A dry run lists the dates in the pipeline's timezone and creates
	// nothing; a date for to includes its whole day.
	var dates api.BackfillDates
	s.do(request{method: "POST", path: path, token: operator, json: api.BackfillRequest{From: "2025-01-01", To: "2025-01-05", DryRun: true}}).want(t, 200).decode(t, &dates)
	if dates.Pipeline != "daily" || dates.Timezone != "Europe/Warsaw" || len(dates.Dates) != 5 {
		t.Fatalf("dry run = %+v", dates)
	}
	if first, last := dates.Dates[0], dates.Dates[4]; !first.Equal(time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)) || !last.Equal(time.Date(2025, 1, 5, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("dates = %v", dates.Dates)
	}
	s.asAdmin("POST", path, api.BackfillRequest{From: "2025-01-02T02:00:00Z", To: "2025-01-03T02:00:00Z", DryRun: true}).want(t, 200).decode(t, &dates)
	if len(dates.Dates) != 2 {
		t.Fatalf("dry run by times = %+v", dates)
	}
	var list []api.Backfill
	s.asAdmin("GET", path, nil).want(t, 200).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("a dry run created %+v", list)
	}

	// A real one: created, then followed until done.
	r := s.do(request{method: "POST", path: path, token: operator, json: api.BackfillRequest{From: "2025-01-01", To: "2025-01-05"}}).want(t, 201)
	var b api.Backfill
	r.decode(t, &b)
	if b.ID == 0 || b.Pipeline != "daily" || b.Total != 5 || b.Skipped == nil || *b.Skipped != 0 || b.Rerun != "none" || b.CreatedBy != "operator test token" || len(b.Runs) != 5 {
		t.Fatalf("created = %s", r.body)
	}
	if r.header.Get("Location") != fmt.Sprint("/api/v1/backfills/", b.ID) {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	if !b.From.Equal(time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC)) || !b.To.Equal(time.Date(2025, 1, 5, 22, 59, 59, 999999000, time.UTC)) {
		t.Errorf("range = %v – %v", b.From, b.To)
	}
	waitFor(t, 60*time.Second, "the backfill to finish", func() bool {
		s.do(request{method: "GET", path: fmt.Sprint("/api/v1/backfills/", b.ID), token: viewer}).want(t, 200).decode(t, &b)
		return b.State == "done"
	})
	if b.Runs["success"] != 5 || b.Total != 5 || b.Skipped != nil {
		t.Fatalf("done = %+v", b)
	}
	var runs api.RunList
	s.asAdmin("GET", query("/api/v1/runs", "pipeline", "daily"), nil).want(t, 200).decode(t, &runs)
	backfilled := 0
	for _, run := range runs.Runs {
		if run.Kind == "backfill" {
			backfilled++
		}
	}
	if backfilled != 5 {
		t.Fatalf("runs = %+v", runs.Runs)
	}
	s.asAdmin("POST", fmt.Sprintf("/api/v1/backfills/%d/cancel", b.ID), nil).wantError(t, 409, "conflict")

	// Again: the dates have runs and are left alone, unless rerun.
	s.asAdmin("POST", path, api.BackfillRequest{From: "2025-01-01", To: "2025-01-05"}).want(t, 201).decode(t, &b)
	if b.Total != 0 || *b.Skipped != 5 || b.State != "done" {
		t.Fatalf("again = %+v", b)
	}
	s.asAdmin("POST", path, api.BackfillRequest{From: "2025-01-04", To: "2025-01-05", Rerun: "all"}).want(t, 201).decode(t, &b)
	if b.Total != 2 || *b.Skipped != 0 || b.Rerun != "all" {
		t.Fatalf("rerun all = %+v", b)
	}
	s.do(request{method: "GET", path: path, token: viewer}).want(t, 200).decode(t, &list)
	if len(list) != 3 || list[0].ID != b.ID {
		t.Fatalf("list = %+v", list)
	}

	// Cancel: the queued and running runs end cancelled.
	var slow api.Backfill
	s.asAdmin("POST", "/api/v1/pipelines/slow/backfills", api.BackfillRequest{From: "2025-03-01", To: "2025-03-03"}).want(t, 201).decode(t, &slow)
	if slow.Total != 3 {
		t.Fatalf("slow = %+v", slow)
	}
	waitFor(t, 60*time.Second, "a run of the slow backfill to start", func() bool {
		s.asAdmin("GET", fmt.Sprint("/api/v1/backfills/", slow.ID), nil).want(t, 200).decode(t, &slow)
		return slow.Runs["running"] == 1
	})
	s.do(request{method: "POST", path: fmt.Sprintf("/api/v1/backfills/%d/cancel", slow.ID), token: viewer}).wantError(t, 403, "forbidden")
	s.do(request{method: "POST", path: fmt.Sprintf("/api/v1/backfills/%d/cancel", slow.ID), token: operator}).want(t, 200).decode(t, &slow)
	if slow.State != "cancelled" || slow.Runs["cancelled"] != 3 {
		t.Fatalf("cancelled = %+v", slow)
	}
	s.asAdmin("POST", fmt.Sprintf("/api/v1/backfills/%d/cancel", slow.ID), nil).wantError(t, 409, "conflict")

	// What is refused, and why.
	s.do(request{method: "POST", path: path, token: viewer, json: api.BackfillRequest{From: "2025-01-01", To: "2025-01-02"}}).wantError(t, 403, "forbidden")
	s.asAdmin("POST", "/api/v1/pipelines/nope/backfills", api.BackfillRequest{From: "2025-01-01", To: "2025-01-02"}).wantError(t, 404, "not_found")
	e := s.asAdmin("POST", "/api/v1/pipelines/manual/backfills", api.BackfillRequest{From: "2025-01-01", To: "2025-01-02"}).wantError(t, 422, "invalid")
	if !strings.Contains(e.Message, "no schedule") {
		t.Errorf("message %q", e.Message)
	}
	waitFor(t, 30*time.Second, "the broken pipeline", func() bool {
		return s.asAdmin("GET", "/api/v1/pipelines/broken", nil).status == 200
	})
	s.asAdmin("POST", "/api/v1/pipelines/broken/backfills", api.BackfillRequest{From: "2025-01-01", To: "2025-01-02"}).wantError(t, 409, "conflict")
	for _, bad := range []api.BackfillRequest{
		{From: "2025-01-01"},
		{From: "yesterday", To: "2025-01-02"},
		{From: "2025-01-05", To: "2025-01-01"},
		{From: "2025-01-01", To: "2025-01-02", Rerun: "some"},
		{From: "2000-01-01", To: "2099-01-01"},
	} {
		s.asAdmin("POST", path, bad).wantError(t, 422, "invalid")
	}
	s.asAdmin("POST", path, nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", "/api/v1/pipelines/nope/backfills", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/backfills/abc", nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", "/api/v1/backfills/999999", nil).wantError(t, 404, "not_found")
	s.asAdmin("POST", "/api/v1/backfills/999999/cancel", nil).wantError(t, 404, "not_found")
	writeGate(t, gate)
}
