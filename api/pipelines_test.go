package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

const scheduledPipeline = `id: hourly
description: Runs every hour
schedule: "@every 1h"
params:
  region: {type: enum, values: [eu, us], default: eu, description: where}
  count: {type: int, default: 5}
tasks:
  extract:
    run: echo extract
  load:
    depends_on: [transform]
    command: [echo, load]
  transform:
    depends_on: [extract]
    run: echo transform
`

func TestPipelineReads(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"hourly.yaml": scheduledPipeline, "manual.yaml": manualPipeline})
	var list []api.Pipeline
	s.asAdmin("GET", "/api/v1/pipelines", nil).want(t, 200).decode(t, &list)
	if len(list) != 2 || list[0].ID != "hourly" || list[1].ID != "manual" {
		t.Fatalf("list = %+v", list)
	}
	h, m := list[0], list[1]
	if h.NextRun == nil || h.Schedule != "@every 1h" || h.Timezone != "UTC" || h.Description != "Runs every hour" || h.Paused {
		t.Fatalf("hourly = %+v", h)
	}
	if h.File != filepath.Join(s.pipes, "hourly.yaml") || len(h.Version) != 64 || h.VersionID == 0 || h.ParseError != nil {
		t.Errorf("hourly version = %+v", h)
	}
	if p := h.Params["region"]; p.Type != "enum" || p.Default != "eu" || p.Required || len(p.Values) != 2 || p.Description != "where" {
		t.Errorf("param region = %+v", p)
	}
	if p := h.Params["count"]; p.Type != "int" || p.Required || p.Default != float64(5) {
		t.Errorf("param count = %+v", p)
	}
	if m.NextRun != nil || m.Schedule != "" || len(m.RecentRuns) != 0 {
		t.Errorf("manual = %+v", m)
	}

	// One pipeline: tasks in dependency order, the source.
	var d api.PipelineDetail
	s.asAdmin("GET", "/api/v1/pipelines/hourly", nil).want(t, 200).decode(t, &d)
	var order []string
	for _, task := range d.Tasks {
		order = append(order, task.ID)
	}
	if strings.Join(order, ",") != "extract,transform,load" || d.Tasks[2].Kind != "command" || d.Tasks[2].DependsOn[0] != "transform" {
		t.Fatalf("tasks = %v %+v", order, d.Tasks[2])
	}
	if d.Source != scheduledPipeline {
		t.Errorf("source = %q", d.Source)
	}
	s.asAdmin("GET", "/api/v1/pipelines/nope", nil).wantError(t, 404, "not_found")

	// Pausing clears the next run; unpausing brings it back.
	var p api.Pipeline
	s.asAdmin("POST", "/api/v1/pipelines/hourly/pause", nil).want(t, 200).decode(t, &p)
	if !p.Paused || p.NextRun != nil {
		t.Errorf("paused = %+v", p)
	}
	s.asAdmin("POST", "/api/v1/pipelines/hourly/unpause", nil).want(t, 200).decode(t, &p)
	if p.Paused || p.NextRun == nil {
		t.Errorf("unpaused = %+v", p)
	}
	s.asAdmin("POST", "/api/v1/pipelines/nope/pause", nil).wantError(t, 404, "not_found")

	// A recent run shows in the list.
	run := s.trigger("manual", nil)
	s.waitRun(run.ID, "success")
	s.asAdmin("GET", "/api/v1/pipelines", nil).want(t, 200).decode(t, &list)
	if rr := list[1].RecentRuns; len(rr) != 1 || rr[0].ID != run.ID || rr[0].State != "success" || rr[0].Kind != "manual" {
		t.Errorf("recent runs = %+v", rr)
	}

	// A file that breaks keeps its last version live, with the error shown.
	s.writePipeline("manual.yaml", "id: manual\ntasks:\n  only:\n    runn: echo\n")
	waitFor(t, 30e9, "the parse error", func() bool {
		s.asAdmin("GET", "/api/v1/pipelines/manual", nil).want(t, 200).decode(t, &d)
		return d.ParseError != nil
	})
	if !strings.Contains(*d.ParseError, "runn") || d.ParseErrorAt == nil || d.VersionID == 0 || len(d.Tasks) != 1 {
		t.Errorf("broken file: %+v", d)
	}
}

func TestUpload(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	v1 := []byte("id: uploaded\ntasks:\n  a:\n    run: echo one\n")
	v2 := []byte("id: uploaded\ntasks:\n  a:\n    run: echo two\n")
	upload := func(name string, src []byte) *response {
		body, ct := multipartBody(t, name, src, nil)
		return s.do(request{method: "POST", path: "/api/v1/pipelines", raw: body, contentType: ct, token: s.admin})
	}
	var res api.UploadResult
	upload("uploaded.yaml", v1).want(t, 201).decode(t, &res)
	if res.Pipeline != "uploaded" || !res.Created || !res.Changed || len(res.Version) != 64 {
		t.Fatalf("first upload = %+v", res)
	}
	first := res
	upload("uploaded.yaml", v1).want(t, 201).decode(t, &res)
	if res.Created || res.Changed || res.VersionID != first.VersionID {
		t.Fatalf("same upload again = %+v", res)
	}
	// A raw YAML body, named by ?name=.
	s.do(request{method: "POST", path: "/api/v1/pipelines?name=uploaded.yml", raw: v2, contentType: "application/yaml", token: s.admin}).want(t, 201).decode(t, &res)
	if !res.Created || !res.Changed {
		t.Fatalf("second version = %+v", res)
	}
	second := res

	// Versions, newest first, the live one marked.
	var versions []api.Version
	s.asAdmin("GET", "/api/v1/pipelines/uploaded/versions", nil).want(t, 200).decode(t, &versions)
	if len(versions) != 2 || versions[0].ID != second.VersionID || !versions[0].Live || versions[1].Live || versions[0].File != "" {
		t.Fatalf("versions = %+v", versions)
	}
	var vd api.VersionDetail
	for _, ref := range []string{fmt.Sprint(first.VersionID), first.Version[:6], first.Version} {
		s.asAdmin("GET", "/api/v1/pipelines/uploaded/versions/"+ref, nil).want(t, 200).decode(t, &vd)
		if vd.ID != first.VersionID || vd.Source != string(v1) || vd.Live || !bytes.Contains(vd.Spec, []byte(`"echo one"`)) || vd.Pipeline != "uploaded" {
			t.Fatalf("version %s = %+v", ref, vd)
		}
	}
	s.asAdmin("GET", "/api/v1/pipelines/uploaded/versions/live", nil).want(t, 200).decode(t, &vd)
	if vd.ID != second.VersionID || !vd.Live {
		t.Fatalf("live = %+v", vd)
	}
	s.asAdmin("GET", "/api/v1/pipelines/uploaded/versions/abc", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/pipelines/uploaded/versions/ffffffff", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/pipelines/manual/versions/"+fmt.Sprint(first.VersionID), nil).wantError(t, 404, "not_found")

	// The diff: by default the live version against the one before.
	var diff api.Diff
	s.asAdmin("GET", "/api/v1/pipelines/uploaded/diff", nil).want(t, 200).decode(t, &diff)
	if diff.From.ID != first.VersionID || diff.To.ID != second.VersionID || !strings.Contains(diff.Diff, "-    run: echo one") || !strings.Contains(diff.Diff, "+    run: echo two") {
		t.Fatalf("diff = %+v", diff)
	}
	s.asAdmin("GET", query("/api/v1/pipelines/uploaded/diff", "from", "live", "to", first.Version[:8]), nil).want(t, 200).decode(t, &diff)
	if diff.From.ID != second.VersionID || !strings.Contains(diff.Diff, "+    run: echo one") {
		t.Fatalf("reverse diff = %+v", diff)
	}
	s.asAdmin("GET", query("/api/v1/pipelines/uploaded/diff", "to", fmt.Sprint(first.VersionID)), nil).wantError(t, 400, "bad_request")

	// Bad file names are malformed requests.
	for _, name := range []string{"../evil.yaml", "dir/evil.yaml", `..\evil.yaml`, "evil.txt"} {
		e := upload(name, v1).wantError(t, 400, "bad_request")
		if !strings.Contains(e.Message, "name") {
			t.Errorf("%s: message %q", name, e.Message)
		}
	}
	s.do(request{method: "POST", path: "/api/v1/pipelines?name=../evil.yaml", raw: v1, contentType: "application/yaml", token: s.admin}).wantError(t, 400, "bad_request")
	s.do(request{method: "POST", path: "/api/v1/pipelines", raw: v1, contentType: "application/json", token: s.admin}).wantError(t, 400, "bad_request")
	body, ct := multipartBody(t, "x.yaml", v1, nil)
	s.do(request{method: "POST", path: "/api/v1/pipelines", raw: bytes.Replace(body, []byte(`name="file"`), []byte(`name="other"`), 1), contentType: ct, token: s.admin}).wantError(t, 400, "bad_request")

	// A hostile file is refused fast with a positioned 422, the same way.
	deep := []byte("id: deep\nx: " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "\n")
	if e := upload("deep.yaml", deep).wantError(t, 422, "invalid"); !strings.Contains(e.Message, "deep.yaml:2:67: nesting deeper than 64 levels") {
		t.Fatalf("deep upload: %+v", e)
	}

	// An invalid file: every error positioned, nothing stored.
	bad := []byte("id: broken\ntasks:\n  a:\n    runn: echo\n  b:\n    depends_on: [nope]\n    run: echo\n")
	r := upload("broken.yaml", bad)
	e := r.wantError(t, 422, "invalid")
	var details []api.FileError
	var full struct {
		Error struct {
			Details []api.FileError `json:"details"`
		} `json:"error"`
	}
	r.decode(t, &full)
	details = full.Error.Details
	if len(details) < 2 || !strings.Contains(e.Message, "broken.yaml:4:5") {
		t.Fatalf("422 = %s", r.body)
	}
	for _, d := range details {
		if d.File != "broken.yaml" || d.Line == 0 || d.Col == 0 || d.Message == "" {
			t.Errorf("detail %+v", d)
		}
	}
	found := false
	for _, d := range details {
		found = found || d.Line == 4 && d.Col == 5 && strings.Contains(d.Message, "runn") && strings.Contains(d.Hint, "run")
	}
	if !found {
		t.Errorf("no detail at 4:5 for runn with a hint: %+v", details)
	}
	s.asAdmin("GET", "/api/v1/pipelines/broken", nil).wantError(t, 404, "not_found")

	// Too large: over the upload limit, and over the server's body limit.
	big := append([]byte("id: big\ntasks:\n  a:\n    run: echo\n#"), bytes.Repeat([]byte("x"), 1<<20)...)
	s.do(request{method: "POST", path: "/api/v1/pipelines?name=big.yaml", raw: big, contentType: "application/yaml", token: s.admin}).wantError(t, 413, "too_large")
	huge := bytes.Repeat([]byte("#xxxxxxx\n"), 2<<20/9)
	upload("huge.yaml", huge).wantError(t, 413, "too_large")
	s.do(request{method: "POST", path: "/api/v1/pipelines?name=huge.yaml", raw: huge, contentType: "application/yaml", token: s.admin}).wantError(t, 413, "too_large")
	s.asAdmin("GET", "/api/v1/pipelines/big", nil).wantError(t, 404, "not_found")

	// A pipeline defined by a file on the server is not replaced.
	e = upload("manual.yaml", []byte(manualPipeline+"# changed\n")).wantError(t, 409, "conflict")
	if !strings.Contains(e.Message, "manual.yaml") {
		t.Errorf("409 message %q", e.Message)
	}

	// Deleting: an uploaded pipeline goes; one whose file exists stays.
	s.asAdmin("DELETE", "/api/v1/pipelines/uploaded", nil).want(t, 204)
	s.asAdmin("GET", "/api/v1/pipelines/uploaded", nil).wantError(t, 404, "not_found")
	s.asAdmin("DELETE", "/api/v1/pipelines/uploaded", nil).wantError(t, 404, "not_found")
	e = s.asAdmin("DELETE", "/api/v1/pipelines/manual", nil).wantError(t, 409, "conflict")
	if !strings.Contains(e.Message, "file") {
		t.Errorf("409 message %q", e.Message)
	}
	s.asAdmin("GET", "/api/v1/pipelines/manual", nil).want(t, 200)
	// Once its file is gone, it can go.
	if err := os.Remove(filepath.Join(s.pipes, "manual.yaml")); err != nil {
		t.Fatal(err)
	}
	// The scheduler marks it missing when it sees the file go (file system
	// events, or the rescan); until then the delete is refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.asAdmin("DELETE", "/api/v1/pipelines/manual", nil)
		if r.status == 204 || time.Now().After(deadline) {
			r.want(t, 204)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPipelineNextRunFollowsTheLastRun checks next_run of an @every
// pipeline whose last scheduled run was 10 minutes ago: the scheduler
// creates the next one an interval after that run, and the API says so
// (not now plus the interval), in the list and for the one pipeline.
func TestPipelineNextRunFollowsTheLastRun(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	last := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	seedScheduledRun(t, s.home, "id: hourly\nschedule: \"@every 1h\"\ntasks:\n  a:\n    run: echo hi\n", last)
	s.start("--poll", "100ms")
	want := last.Add(time.Hour)

	var list []api.Pipeline
	s.asAdmin("GET", "/api/v1/pipelines", nil).want(t, 200).decode(t, &list)
	if len(list) != 1 || list[0].NextRun == nil || !list[0].NextRun.Equal(want) {
		t.Fatalf("list: next_run = %v, want %v (the last run at %v plus 1h)", list[0].NextRun, want, last)
	}
	var d api.PipelineDetail
	s.asAdmin("GET", "/api/v1/pipelines/hourly", nil).want(t, 200).decode(t, &d)
	if d.NextRun == nil || !d.NextRun.Equal(want) {
		t.Fatalf("pipeline: next_run = %v, want %v", d.NextRun, want)
	}
}

// seedScheduledRun stores, in the SQLite home of a server not yet
// started, an uploaded pipeline and a scheduled run of it at logical.
func seedScheduledRun(t *testing.T, home, src string, logical time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, home, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := control.New(st, nil, slog.New(slog.DiscardHandler)).Upload(ctx, "seed.yaml", []byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: res.Pipeline.ID, Key: scheduler.RunKey(logical), Kind: store.RunScheduled, LogicalDate: logical, Params: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
}

// TestDuplicatePipelineFiles checks a server's pipelines folder with two
// files of one id: the pipeline shows an error naming both, and deleting
// the copy clears it without touching the other file.
func TestDuplicatePipelineFiles(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"a.yaml": manualPipeline, "b.yaml": manualPipeline + "# a copy\n"})
	var p api.PipelineDetail
	s.asAdmin("GET", "/api/v1/pipelines/manual", nil).want(t, 200).decode(t, &p)
	if p.ParseError == nil || !strings.Contains(*p.ParseError, "a.yaml:1:5") || !strings.Contains(*p.ParseError, "b.yaml:1:5") {
		t.Fatalf("parse_error = %q, want both files named", deref(p.ParseError))
	}
	if err := os.Remove(filepath.Join(s.pipes, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the duplicate error to clear", func() bool {
		s.asAdmin("GET", "/api/v1/pipelines/manual", nil).want(t, 200).decode(t, &p)
		return p.ParseError == nil
	})
	if p.Missing || !strings.HasSuffix(p.File, "a.yaml") {
		t.Fatalf("after deleting the copy: %+v", p)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestPipelineEvents: a pipeline started by assets, a webhook or files
// says so in events, and is not "manual only".
func TestPipelineEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"prod.yaml":  "id: prod\ntasks:\n  a:\n    produces: [x]\n    run: echo\n",
		"cons.yaml":  "id: cons\nschedule: {cron: \"0 3 * * *\", assets: [x]}\ntasks:\n  a:\n    run: echo\n",
		"hook.yaml":  "id: hook\ntriggers:\n  - webhook: {secret: HOOK_SECRET}\ntasks:\n  a:\n    run: echo\n",
		"plain.yaml": "id: plain\ntasks:\n  a:\n    run: echo\n",
	})
	var list []api.Pipeline
	waitFor(t, 20*time.Second, "four pipelines", func() bool {
		s.asAdmin("GET", "/api/v1/pipelines", nil).want(t, 200).decode(t, &list)
		return len(list) == 4
	})
	got := map[string]string{}
	for _, p := range list {
		got[p.ID] = p.Schedule + "|" + strings.Join(p.Events, ",")
	}
	want := map[string]string{"cons": "0 3 * * *|assets", "hook": "|webhook", "plain": "|", "prod": "|"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schedule|events = %v, want %v", got, want)
	}
}
