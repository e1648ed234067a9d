package main_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

const warsawPipeline = `id: daily_orders
description: Load yesterday's orders
schedule: "0 3 * * *"
timezone: Europe/Warsaw
start: 2026-01-01
catchup: false
tasks:
  a:
    run: echo hi
`

// TestCLITimes checks that the client commands print dates with times,
// in the local zone ($TZ) or with --utc in UTC: the next run of a 03:00
// Europe/Warsaw pipeline reads 03:00 in Warsaw and 02:00 (01:00 in
// summer) in UTC.
func TestCLITimes(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{"daily.yaml": warsawPipeline})
	var list []api.Pipeline
	s.cli(t, "pipelines", "list", "--json").want(t, 0).decode(t, &list)
	if len(list) != 1 || list[0].NextRun == nil {
		t.Fatalf("--json: want one pipeline with a next run: %+v", list)
	}
	next := *list[0].NextRun
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	if h := next.In(warsaw).Hour(); h != 3 {
		t.Fatalf("next run %v is at %d:00 in Warsaw, want 3:00", next, h)
	}

	inWarsaw := *s
	inWarsaw.env = append(append([]string(nil), s.env...), "TZ=Europe/Warsaw")
	local := next.In(warsaw).Format("2006-01-02 15:04")
	r := inWarsaw.cli(t, "pipelines", "list").want(t, 0, "NEXT RUN")
	if !regexp.MustCompile(`(?m)^daily_orders\s+0 3 \* \* \* \(Europe/Warsaw\)\s+` + regexp.QuoteMeta(local) + `\s`).MatchString(r.stdout) {
		t.Errorf("pipelines list with TZ=Europe/Warsaw: want next run %s:\n%s", local, r.stdout)
	}
	utc := next.UTC().Format("2006-01-02 15:04")
	r = inWarsaw.cli(t, "pipelines", "list", "--utc").want(t, 0)
	if !regexp.MustCompile(`(?m)^daily_orders\s.*\s` + regexp.QuoteMeta(utc) + `\s`).MatchString(r.stdout) {
		t.Errorf("pipelines list --utc: want next run %s:\n%s", utc, r.stdout)
	}
	// SLUICE_UTC=true is --utc.
	utcEnv := inWarsaw
	utcEnv.env = append(append([]string(nil), inWarsaw.env...), "SLUICE_UTC=true")
	utcEnv.cli(t, "pipelines", "show", "daily_orders").want(t, 0, "next run "+utc)
	inWarsaw.cli(t, "pipelines", "show", "daily_orders").want(t, 0, "next run "+local)

	// A run's logical date reads the same way in every command that
	// lists it: runs list, runs tasks, runs show and the selection of
	// runs clear.
	run := runID(t, s.cli(t, "pipelines", "trigger", "daily_orders", "--wait").want(t, 0))
	id := strconv.FormatInt(run, 10)
	var d api.RunDetail
	s.cli(t, "runs", "show", id, "--json").want(t, 0).decode(t, &d)
	var hi api.LogLine
	for line := range strings.Lines(s.cli(t, "logs", id, "a", "--json").want(t, 0).stdout) {
		var l api.LogLine
		if err := json.Unmarshal([]byte(line), &l); err == nil && l.Line == "hi" {
			hi = l
		}
	}
	if hi.Time.IsZero() {
		t.Fatal("logs --json: no line hi")
	}
	for _, zone := range []struct {
		cli  func(*testing.T, ...string) result
		name string
		date string
		loc  *time.Location
	}{
		{inWarsaw.cli, "local", d.LogicalDate.In(warsaw).Format("2006-01-02 15:04"), warsaw},
		{utcEnv.cli, "--utc", d.LogicalDate.UTC().Format("2006-01-02 15:04"), time.UTC},
	} {
		// A log line gives its time in the same zone, and its date only
		// when it is not of today there (see TestClockTime).
		at := hi.Time.In(zone.loc)
		logLine := `^(` + regexp.QuoteMeta(at.Format("2006-01-02")) + ` )?` + regexp.QuoteMeta(at.Format("15:04:05.000")) + ` \| hi$`
		if r := zone.cli(t, "logs", id, "a").want(t, 0); !regexp.MustCompile(`(?m)` + logLine).MatchString(r.stdout) {
			t.Errorf("logs %s: want the line at %s:\n%s", zone.name, at, r.stdout)
		}
		date := regexp.QuoteMeta(zone.date)
		for _, c := range []struct {
			args []string
			line string
		}{
			{[]string{"runs", "list"}, `^` + id + `\s+daily_orders\s+success\s+manual\s+` + date + `\s`},
			{[]string{"runs", "tasks"}, `^` + id + `\s+daily_orders\s+a\s+success\s+1\s+` + date + `\s`},
			{[]string{"runs", "show", id}, `^logical date\s+` + date + `:\d\d \S+$`},
			{[]string{"runs", "clear", id, "a", "--dry-run"}, `^` + id + `\s+` + date + `\s+a\s+success$`},
		} {
			if r := zone.cli(t, c.args...).want(t, 0); !regexp.MustCompile(`(?m)` + c.line).MatchString(r.stdout) {
				t.Errorf("%s %s: want the logical date %s:\n%s", strings.Join(c.args, " "), zone.name, zone.date, r.stdout)
			}
		}
	}
}

// TestCLIPipelineFilters lists pipelines by tag, last run state, paused
// and search.
func TestCLIPipelineFilters(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"orders.yaml": "id: orders_daily\ndescription: Load the ORDERS\ntags: [finance, orders]\ntasks:\n  boom:\n    run: exit 3\n",
		"hello.yaml":  "id: hello\ndescription: Says hello\ntags: [demo]\ntasks:\n  a:\n    run: echo hi\n",
		"idle.yaml":   "id: idle\ntasks:\n  a:\n    run: echo hi\n",
	})
	id := runID(t, s.cli(t, "pipelines", "trigger", "orders_daily").want(t, 0))
	s.cli(t, "runs", "show", strconv.FormatInt(id, 10), "--wait").want(t, 1)
	s.cli(t, "pipelines", "pause", "idle").want(t, 0)

	listed := func(args ...string) string {
		t.Helper()
		r := s.cli(t, append([]string{"pipelines", "list"}, args...)...).want(t, 0)
		var ids []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 {
				ids = append(ids, f[0])
			}
		}
		return strings.Join(ids, " ")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "hello idle orders_daily"},
		{[]string{"--tag", "finance"}, "orders_daily"},
		{[]string{"--tag", "finance,demo"}, "hello orders_daily"},
		{[]string{"--state", "failed"}, "orders_daily"},
		{[]string{"--state", "none", "--active"}, "hello"},
		{[]string{"--paused"}, "idle"},
		{[]string{"--search", "orders"}, "orders_daily"},
		{[]string{"--tag", "finance", "--state", "failed", "--search", "load"}, "orders_daily"},
	} {
		if got := listed(tc.args...); got != tc.want {
			t.Errorf("pipelines list %v = %q, want %q", tc.args, got, tc.want)
		}
	}
	s.cli(t, "pipelines", "list", "--tag", "finance").want(t, 0, "finance,orders")
	s.cli(t, "pipelines", "list", "--search", "nothing").want(t, 0, "No pipeline matches these filters.")
	s.cli(t, "pipelines", "list", "--state", "broken").want(t, 2, `state "broken"`)
	s.cli(t, "pipelines", "list", "--paused", "--active").want(t, 2, "--paused and --active exclude each other")
}

// TestCLIBrowse asks what failed in the last 12 hours, everywhere: runs
// and task instances across pipelines.
func TestCLIBrowse(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"orders.yaml": "id: orders_daily\ntags: [finance]\ntasks:\n  boom:\n    run: exit 3\n",
		"hello.yaml":  "id: hello\ntags: [demo]\ntasks:\n  a:\n    run: echo hi\n",
	})
	failed := runID(t, s.cli(t, "pipelines", "trigger", "orders_daily").want(t, 0))
	s.cli(t, "runs", "show", strconv.FormatInt(failed, 10), "--wait").want(t, 1)
	ok := runID(t, s.cli(t, "pipelines", "trigger", "hello").want(t, 0))
	s.cli(t, "runs", "show", strconv.FormatInt(ok, 10), "--wait").want(t, 0)

	r := s.cli(t, "runs", "list", "--state", "failed", "--since", "12h").want(t, 0, "LOGICAL DATE")
	if !regexp.MustCompile(`(?m)^`+strconv.FormatInt(failed, 10)+`\s+orders_daily\s+failed\s+manual\s+\d{4}-\d\d-\d\d \d\d:\d\d\s`).MatchString(r.stdout) || strings.Contains(r.stdout, "hello") {
		t.Errorf("runs list --state failed --since 12h:\n%s", r.stdout)
	}
	s.cli(t, "runs", "list", "--since", "2020-01-01", "--until", "2020-01-02").want(t, 0, "No runs.")
	r = s.cli(t, "runs", "list", "--tag", "demo").want(t, 0)
	if !strings.Contains(r.stdout, "hello") || strings.Contains(r.stdout, "orders_daily") {
		t.Errorf("runs list --tag demo:\n%s", r.stdout)
	}
	r = s.cli(t, "runs", "tasks", "--state", "failed", "--since", "12h").want(t, 0, "ATTEMPTS")
	if !regexp.MustCompile(`(?m)^`+strconv.FormatInt(failed, 10)+`\s+orders_daily\s+boom\s+failed\s+1\s`).MatchString(r.stdout) || strings.Contains(r.stdout, "hello") {
		t.Errorf("runs tasks --state failed --since 12h:\n%s", r.stdout)
	}
	r = s.cli(t, "runs", "tasks", "--limit", "1").want(t, 0, "More: sluice runs tasks --before")
	s.cli(t, "runs", "tasks", "--since", "yesterday").want(t, 2, `since="yesterday"`)

	// A date in --since and --until is midnight in the zone the command
	// prints times in: local ($TZ), or UTC with --utc. The zone is one
	// where the run's logical date falls on another day than in UTC.
	var d api.RunDetail
	s.cli(t, "runs", "show", strconv.FormatInt(failed, 10), "--json").want(t, 0).decode(t, &d)
	name := "Pacific/Pago_Pago" // UTC-11: the day before, until 11:00 UTC
	if d.LogicalDate.UTC().Hour() >= 10 {
		name = "Pacific/Kiritimati" // UTC+14: the day after, from 10:00 UTC
	}
	zone, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	local := *s
	local.env = append(append([]string(nil), s.env...), "TZ="+name)
	for _, c := range []struct {
		cli  *cliServer
		utc  []string
		day  time.Time
		zone string
	}{
		{&local, nil, d.LogicalDate.In(zone), name},
		{&local, []string{"--utc"}, d.LogicalDate.UTC(), "UTC"},
	} {
		day := c.day.Format(time.DateOnly)
		next := c.day.AddDate(0, 0, 1).Format(time.DateOnly)
		for _, b := range []struct {
			flag, date string
			in         bool
		}{{"--since", day, true}, {"--since", next, false}, {"--until", day, false}, {"--until", next, true}} {
			for _, list := range []string{"list", "tasks"} {
				args := append([]string{"runs", list, "--state", "failed", b.flag, b.date}, c.utc...)
				r := c.cli.cli(t, args...).want(t, 0)
				if got := strings.Contains(r.stdout, "orders_daily"); got != b.in {
					t.Errorf("%s (logical date %s in %s): lists the run %v, want %v:\n%s", strings.Join(args, " "), c.day.Format(time.RFC3339), c.zone, got, b.in, r.stdout)
				}
			}
		}
	}
}

// TestBenchList runs 'sluice bench list' on a small store: every path
// answers with the rows the filters select, and the query plans come
// along. (Its times are for bench/RESULTS.md, not for a test.)
func TestBenchList(t *testing.T) {
	t.Parallel()
	r := sluiceCmd(t, t.TempDir(), nil, "bench", "list", "--pipelines", "16", "--runs", "2", "--requests", "2", "--json").want(t, 0)
	var res struct {
		Pipelines int `json:"pipelines"`
		Targets   []struct {
			Path string `json:"path"`
			Rows int    `json:"rows"`
		} `json:"targets"`
		QueryPlans map[string]string `json:"query_plans"`
	}
	r.decode(t, &res)
	rows := map[string]int{}
	for _, tg := range res.Targets {
		rows[tg.Path] = tg.Rows
	}
	if res.Pipelines != 16 || rows["/"] != 16 || rows["/api/v1/pipelines"] != 16 || rows["/api/v1/pipelines?limit=100"] != 16 || rows["/?search=shop+12"] != 1 {
		t.Errorf("bench list: %+v", res)
	}
	for name, plan := range res.QueryPlans {
		if !strings.Contains(plan, "runs_pipeline_id") {
			t.Errorf("the plan of %s does not use runs_pipeline_id:\n%s", name, plan)
		}
	}
}

// TestCLITriggerListParams gives list and object params to a server's
// run with -p, as items separated by commas or as JSON: the list maps a
// task, an empty list maps it to no instance, and the object reaches
// env: typed.
func TestCLITriggerListParams(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"lp.yaml": `id: lp
params:
  tables: {type: list, default: [orders]}
  config: {type: object, default: {mode: full}}
tasks:
  load:
    for_each: ${{ params.tables }}
    run: echo "loading $SLUICE_ITEM"
  show:
    env:
      MODE: ${{ params.config.mode }}
    run: echo "mode=$MODE"
`,
	})
	r := s.cli(t, "pipelines", "trigger", "lp", "-p", "tables=a,b", "-p", `config={"mode": "delta"}`, "--wait").want(t, 0, "expanded into 2 items", "mode=delta")
	for _, want := range []string{`load\[0\]\s+\| loading a`, `load\[1\]\s+\| loading b`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("-p tables=a,b: no line %s:\n%s", want, r.stdout)
		}
	}
	var d api.RunDetail
	s.cli(t, "runs", "show", strconv.FormatInt(runID(t, r), 10), "--json").want(t, 0).decode(t, &d)
	var params struct {
		Tables []string          `json:"tables"`
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal(d.Params, &params); err != nil || strings.Join(params.Tables, ",") != "a,b" || params.Config["mode"] != "delta" {
		t.Errorf("the run's params are %s (%v), want a list and an object", d.Params, err)
	}
	// However quick the run, the mapped task says what it expanded into.
	r = s.cli(t, "pipelines", "trigger", "lp", "-p", `tables=["x", "y", "z"]`, "--wait").want(t, 0, "expanded into 3 items")
	if !regexp.MustCompile(`load\[2\]\s+\| loading z`).MatchString(r.stdout) {
		t.Errorf("-p with a JSON list: no item z:\n%s", r.stdout)
	}
	s.cli(t, "runs", "show", strconv.FormatInt(runID(t, s.cli(t, "pipelines", "trigger", "lp", "-p", "tables=", "--wait").want(t, 0)), 10), "--json").want(t, 0).decode(t, &d)
	for _, ti := range d.Tasks {
		if ti.Task == "load" && (ti.State != "skipped" || ti.ItemsTotal != 0) {
			t.Errorf("an empty list: load is %s with %d items, want skipped with none", ti.State, ti.ItemsTotal)
		}
	}
	s.cli(t, "pipelines", "trigger", "lp", "-p", "config=[1]").want(t, 1, `param "config": want a JSON object, got [1]`)
}

// TestCLIAllowedFailureOnAServer: a run whose only failure is allowed
// succeeds through the server too; trigger --wait and runs show say the
// failure is allowed, and runs show gives the when: condition that
// skipped a task, which has no attempt and no start.
func TestCLIAllowedFailureOnAServer(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"af.yaml": `id: af
params:
  go: {type: bool, default: false}
tasks:
  best_effort:
    allow_failure: true
    run: exit 3
  alert:
    depends_on: [best_effort]
    trigger_rule: one_failed
    run: echo alerting
  maybe:
    when: ${{ params.go }}
    run: echo ran
`,
	})
	r := s.cli(t, "pipelines", "trigger", "af", "--wait").want(t, 0, "failed (allowed)", "| alerting")
	r = s.cli(t, "runs", "show", strconv.FormatInt(runID(t, r), 10)).want(t, 0)
	for _, line := range []string{
		`(?m)^state\s+success$`,
		`(?m)^best_effort\s+failed \(allowed\)\s+1\s.*exited with code 3`,
		`(?m)^alert\s+success\s+1\s`,
		// It never started: no start time, no duration.
		`(?m)^maybe\s+skipped\s+0\s+-\s+-\s+when: \$\{\{ params\.go \}\} is false$`,
	} {
		if !regexp.MustCompile(line).MatchString(r.stdout) {
			t.Errorf("runs show: no line %s:\n%s", line, r.stdout)
		}
	}
}
