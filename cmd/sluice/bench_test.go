package main_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/kubetest"
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
	BaselineBefore  *float64 `json:"baseline_before_seconds"`
	BaselineAfter   *float64 `json:"baseline_after_seconds"`
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
			(b.BaselineSeconds != nil) != c.shell || (c.shell && (*b.BaselineSeconds <= 0 || *b.BaselineBefore <= 0 || *b.BaselineAfter <= 0 ||
			*b.BaselineSeconds != (*b.BaselineBefore+*b.BaselineAfter)/2)) {
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

// latencyJSON is one delay of the asset-hop and webhook scenarios.
type latencyJSON struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// eventBenchJSON is what the asset-hop and webhook scenarios add.
type eventBenchJSON struct {
	benchJSON
	Queued   *latencyJSON `json:"queued"`
	Started  *latencyJSON `json:"started"`
	Answered *latencyJSON `json:"answered"`
}

// runEventBench runs asset-hop or webhook small and checks that each
// delay it reports counts n and is ordered (p50 ≤ p95 ≤ p99 ≤ max), and
// that a task cannot start before it is queued.
func runEventBench(t *testing.T, n int, answered bool, args ...string) eventBenchJSON {
	t.Helper()
	r := sluiceCmd(t, t.TempDir(), nil, append([]string{"bench"}, append(args, "--json")...)...)
	if r.code != 0 {
		t.Fatalf("sluice bench %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	var b eventBenchJSON
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("sluice bench %v --json: %v\n%s", args, err, r.stdout)
	}
	ls := []*latencyJSON{b.Queued, b.Started}
	if answered {
		ls = append(ls, b.Answered)
	} else if b.Answered != nil {
		t.Errorf("%v: an answered delay without requests: %s", args, r.stdout)
	}
	for _, l := range ls {
		if l == nil || l.N != n || l.P50Ms > l.P95Ms || l.P95Ms > l.P99Ms || l.P99Ms > l.MaxMs {
			t.Fatalf("sluice bench %v: delays not as expected (want %d each):\n%s", args, n, r.stdout)
		}
	}
	if b.Started.P50Ms < b.Queued.P50Ms || b.Seconds <= 0 || b.TasksPerSec <= 0 {
		t.Fatalf("sluice bench %v: %s", args, r.stdout)
	}
	// The text output names the same delays.
	r = sluiceCmd(t, t.TempDir(), nil, append([]string{"bench"}, args...)...)
	for _, want := range []string{"queued        p50/p95/p99", "started       p50/p95/p99"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("sluice bench %v: exit %d, no %q in\n%s%s", args, r.code, want, r.stdout, r.stderr)
		}
	}
	return b
}

// TestBenchAssetHopAndWebhook runs the event scenarios with a handful of
// pipelines and requests: a check of what they report, not a
// measurement.
func TestBenchAssetHopAndWebhook(t *testing.T) {
	t.Parallel()
	t.Run("asset-hop", func(t *testing.T) {
		t.Parallel()
		b := runEventBench(t, 4, false, "asset-hop", "--tasks", "5")
		if b.Scenario != "asset-hop" || b.Store != "sqlite" || b.Tasks != 5 || b.Hops != 4 || *b.HopP50Ms != b.Started.P50Ms {
			t.Errorf("%+v", b)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		t.Parallel()
		b := runEventBench(t, 6, true, "webhook", "--requests", "6")
		if b.Scenario != "webhook" || b.Store != "sqlite" || b.Tasks != 6 {
			t.Errorf("%+v", b)
		}
	})
	t.Run("print-pipeline", func(t *testing.T) {
		t.Parallel()
		r := sluiceCmd(t, t.TempDir(), nil, "bench", "asset-hop", "--tasks", "3", "--print-pipeline")
		if r.code != 0 || strings.Count(r.stdout, "\nid: bench_hop_") != 3 || !strings.Contains(r.stdout, "schedule: {assets: [bench.hop.0001]}") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := sluiceCmd(t, t.TempDir(), nil, "bench", "asset-hop", "--tasks", "1"); r.code == 0 || !strings.Contains(r.stderr, "--tasks 2 or more") {
			t.Fatalf("--tasks 1: exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestBenchEventsOnPostgres runs the event scenarios on PostgreSQL with
// the workers in two processes of their own, so hops cross processes.
func TestBenchEventsOnPostgres(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	b := runEventBench(t, 3, false, "asset-hop", "--tasks", "4", "--db", pgtest.BaseURL(), "--workers-procs", "2")
	if b.Store != "postgres" || b.WorkerProcs != 2 || b.Tasks != 4 {
		t.Fatalf("%+v", b)
	}
	b = runEventBench(t, 4, true, "webhook", "--requests", "4", "--db", pgtest.BaseURL(), "--workers-procs", "2")
	if b.Store != "postgres" || b.WorkerProcs != 2 || b.Tasks != 4 {
		t.Fatalf("%+v", b)
	}
}

// TestBenchParse runs sluice bench parse small: one result per size, each
// measured in its own process, with the version saved and a run made.
func TestBenchParse(t *testing.T) {
	t.Parallel()
	r := sluiceCmd(t, t.TempDir(), nil, "bench", "parse", "--tasks", "10,200", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var res []struct {
		Tasks, Edges, Bytes int
		ParseMs             float64 `json:"parse_ms"`
		HashMs              float64 `json:"hash_ms"`
		SaveMs              float64 `json:"save_ms"`
		RunMs               float64 `json:"run_ms"`
		ParsePeakMB         float64 `json:"parse_peak_mb"`
		PeakMB              float64 `json:"peak_mb"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(res) != 2 || res[0].Tasks != 10 || res[1].Tasks != 200 || res[1].Edges != 199 || res[1].Bytes <= res[0].Bytes {
		t.Fatalf("results = %+v", res)
	}
	for _, x := range res {
		if x.ParseMs <= 0 || x.HashMs <= 0 || x.SaveMs <= 0 || x.RunMs <= 0 || x.ParsePeakMB <= 0 || x.PeakMB < x.ParsePeakMB {
			t.Errorf("a figure is missing: %+v", x)
		}
	}
}

// TestBenchSchedule runs the schedule scenario with a few pipelines on a
// one-second schedule for a few seconds: a check of what it reports, not
// a measurement.
func TestBenchSchedule(t *testing.T) {
	t.Parallel()
	r := sluiceCmd(t, t.TempDir(), nil, "bench", "schedule", "--pipelines", "3", "--every", "1s", "--duration", "4s", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var b struct {
		Pipelines   int          `json:"pipelines"`
		Every       string       `json:"every"`
		Seconds     float64      `json:"seconds"`
		LoadSeconds float64      `json:"load_seconds"`
		Runs        int          `json:"runs"`
		Delay       *latencyJSON `json:"delay"`
		Late        int          `json:"late"`
		CPUShare    float64      `json:"cpu_share"`
		PeakRSSMB   float64      `json:"peak_rss_mb"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	// Each pipeline's first run is not in the delays; on a busy machine
	// the 4 s may see only a few more runs, but they see at least one.
	d := b.Delay
	if b.Pipelines != 3 || b.Every != "@every 1s" || b.Seconds < 4 || b.LoadSeconds <= 0 || b.Runs < 4 ||
		d == nil || d.N != b.Runs-3 || d.P50Ms > d.P99Ms || d.P99Ms > d.MaxMs || b.Late > d.N || b.CPUShare <= 0 || b.PeakRSSMB <= 0 {
		t.Fatalf("%s", r.stdout)
	}
	r = sluiceCmd(t, t.TempDir(), nil, "bench", "schedule", "--pipelines", "2", "--every", "1s", "--duration", "3s")
	for _, want := range []string{"scenario      schedule (sqlite, 2 pipelines", "load ", "queued delay  p50/p99", "CPU share"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("exit %d, no %q in\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
}

// TestBenchK8sFanout runs the k8s-fanout scenario with a few pods on the
// test cluster's kwok node: every pod is created, completes and is
// deleted, nothing is left, and the worker's requests are counted.
func TestBenchK8sFanout(t *testing.T) {
	t.Parallel()
	kubeconfig := kubetest.Require(t)
	ns := kubetest.Namespace(t)
	r := sluiceCmd(t, t.TempDir(), nil, "bench", "k8s-fanout", "--tasks", "6", "--concurrency", "4",
		"--kubeconfig", kubeconfig, "--namespace", ns, "--node", kubetest.FakeNode, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var b struct {
		Tasks         int            `json:"tasks"`
		Created       int            `json:"pods_created"`
		Completed     int            `json:"pods_completed"`
		Cleaned       int            `json:"pods_cleaned"`
		WindowSeconds float64        `json:"window_seconds"`
		CleanedPerSec float64        `json:"cleaned_per_sec"`
		Requests      map[string]int `json:"requests"`
		PerTask       struct {
			BeyondLogs float64 `json:"beyond_logs"`
		} `json:"per_task"`
		LeakedPods    int `json:"leaked_pods"`
		LeakedSecrets int `json:"leaked_secrets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if b.Tasks != 6 || b.Created != 6 || b.Completed != 6 || b.Cleaned != 6 || b.LeakedPods != 0 || b.LeakedSecrets != 0 ||
		b.WindowSeconds <= 0 || b.CleanedPerSec <= 0 || b.Requests["create pods"] != 6 || b.Requests["delete pods"] != 6 || b.PerTask.BeyondLogs < 2 {
		t.Errorf("%s", r.stdout)
	}
}
