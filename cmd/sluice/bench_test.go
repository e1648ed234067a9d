package main_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// benchJSON is what `sluice bench --json` promises (bench/RESULTS.md reads
// these fields).
type benchJSON struct {
	Scenario        string   `json:"scenario"`
	Store           string   `json:"store"`
	Tasks           int      `json:"tasks"`
	WorkerProcs     int      `json:"worker_procs"`
	Seconds         float64  `json:"seconds"`
	TasksPerSec     float64  `json:"tasks_per_sec"`
	Hops            int      `json:"hops"`
	HopP50Ms        *float64 `json:"hop_p50_ms"`
	HopP99Ms        *float64 `json:"hop_p99_ms"`
	BaselineSeconds *float64 `json:"baseline_seconds"`
}

// runBench runs a tiny scenario and checks the figures every scenario has.
func runBench(t *testing.T, args ...string) benchJSON {
	t.Helper()
	r := sluiceCmd(t, t.TempDir(), nil, append([]string{"bench"}, append(args, "--json")...)...)
	if r.code != 0 {
		t.Fatalf("sluice bench %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	var b benchJSON
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("sluice bench %v --json: %v\n%s", args, err, r.stdout)
	}
	if b.Seconds <= 0 || b.TasksPerSec <= 0 || b.HopP50Ms == nil || b.HopP99Ms == nil || *b.HopP99Ms < *b.HopP50Ms {
		t.Fatalf("sluice bench %v: %s", args, r.stdout)
	}
	return b
}

// TestBenchScenarios runs each scenario of `sluice bench` with a handful of
// tasks: a check of what it reports, not a measurement.
func TestBenchScenarios(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		scenario string
		tasks    int // with the join of a fan-out
		hops     int
		shell    bool
	}{
		{"chain", 5, 4, false},
		{"fanout", 6, 1, false},
		{"shell-chain", 3, 2, true},
		{"shell-fanout", 4, 1, true},
	} {
		n := c.tasks
		if strings.HasSuffix(c.scenario, "fanout") {
			n-- // --tasks counts the fanned-out tasks; the join comes on top
		}
		b := runBench(t, c.scenario, "--tasks", strconv.Itoa(n))
		if b.Scenario != c.scenario || b.Store != "sqlite" || b.Tasks != c.tasks || b.Hops != c.hops ||
			(b.BaselineSeconds != nil) != c.shell || (c.shell && *b.BaselineSeconds <= 0) {
			t.Errorf("%s: %+v", c.scenario, b)
		}
	}
}

// TestBenchOnPostgres runs a scenario on PostgreSQL with its workers in two
// processes of their own.
func TestBenchOnPostgres(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	b := runBench(t, "fanout", "--tasks", "20", "--db", pgtest.BaseURL(), "--workers-procs", "2")
	if b.Store != "postgres" || b.WorkerProcs != 2 || b.Tasks != 21 {
		t.Fatalf("%+v", b)
	}
}
