package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestFilesTriggerEndToEnd runs `sluice server` with a files trigger on a
// temp folder and drops files into it: one written whole, one written in
// two parts with a pause between them, one that was there before the
// first watch, and names the pattern does not take. Each new file runs
// once, after it stopped changing, with its path, size and mtime as
// params, as the API lists them. A pipeline watching a folder that does
// not exist says so on its page until the folder appears.
func TestFilesTriggerEndToEnd(t *testing.T) {
	t.Parallel()
	drop := t.TempDir()
	writeFile(t, drop, "old.csv", "there before the first watch\n")
	missing := filepath.Join(t.TempDir(), "not-yet")
	s := startCLIServer(t, map[string]string{
		"drop.yaml": fmt.Sprintf(`id: drop
params:
  file: {type: string, required: true}
  size: {type: int, default: -1}
  mtime: {type: string, default: ""}
triggers:
  - files:
      path: %s
      pattern: "*.csv"
      stable_for: 3s
      params: {file: "${{ file.path }}", size: "${{ file.size }}", mtime: "${{ file.mtime }}"}
tasks:
  count:
    run: wc -c < "$SLUICE_PARAM_FILE"
`, drop),
		"waiting.yaml": fmt.Sprintf("id: waiting\ntriggers:\n  - files: {path: %s}\ntasks:\n  a: {noop: true}\n", missing),
	})
	waitFor(t, 30*time.Second, "the first watch of the folder", s.logs, func() bool {
		return strings.Contains(s.logs(), `"msg":"files trigger started watching","pipeline":"drop"`)
	})

	// A slow writer: the first part, a pause well under stable_for, the
	// rest. Only the whole file may run.
	half := filepath.Join(drop, "half.csv")
	f, err := os.Create(half)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("id,amount\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := f.WriteString("1,10\n2,20\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, drop, "whole.csv", "id,amount\n3,30\n")
	writeFile(t, drop, "notes.txt", "not a csv\n")
	writeFile(t, drop, ".upload.csv.part", "a hidden partial upload\n")

	runs := func() []api.Run {
		t.Helper()
		var page api.RunList
		s.cli(t, "runs", "list", "--pipeline", "drop", "--json").want(t, 0).decode(t, &page)
		return page.Runs
	}
	succeeded := func(n int) func() bool {
		return func() bool {
			rs := runs()
			done := 0
			for _, r := range rs {
				if r.State == "success" {
					done++
				}
			}
			return len(rs) >= n && done == len(rs)
		}
	}
	waitFor(t, 60*time.Second, "runs for half.csv and whole.csv", s.logs, succeeded(2))
	// A last file, dropped after the others ran: when its run is there,
	// a run for anything before it would be too.
	writeFile(t, drop, "last.csv", "id,amount\n")
	waitFor(t, 60*time.Second, "a run for last.csv", s.logs, succeeded(3))

	got := map[string]api.Run{}
	for _, r := range runs() {
		var p struct {
			File  string `json:"file"`
			Size  int64  `json:"size"`
			Mtime string `json:"mtime"`
		}
		if err := json.Unmarshal(r.Params, &p); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[p.File]; dup {
			t.Fatalf("two runs for %s", p.File)
		}
		got[p.File] = r
		fi, err := os.Stat(p.File)
		if err != nil {
			t.Fatalf("run %d names %s: %v", r.ID, p.File, err)
		}
		if r.Kind != "files" || p.Size != fi.Size() || p.Mtime != fi.ModTime().UTC().Format(time.RFC3339Nano) {
			t.Fatalf("run %d: kind %s, params %+v; want a files run with size %d and mtime %s", r.ID, r.Kind, p, fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano))
		}
	}
	for _, name := range []string{"half.csv", "whole.csv", "last.csv"} {
		if _, ok := got[filepath.Join(drop, name)]; !ok {
			t.Fatalf("no run for %s; runs for %v", name, got)
		}
	}
	if len(got) != 3 {
		t.Fatalf("runs for %d files, want 3 (not old.csv, notes.txt or the hidden part): %v", len(got), got)
	}
	// A run says which file started it, in the API and the CLI.
	lastCSV := filepath.Join(drop, "last.csv")
	fi, err := os.Stat(lastCSV)
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(got[lastCSV].ID, 10)
	var rd api.RunDetail
	s.cli(t, "runs", "show", id, "--json").want(t, 0).decode(t, &rd)
	if len(rd.Triggers) != 1 || rd.Triggers[0].Source != "files" || rd.Triggers[0].File == nil ||
		rd.Triggers[0].File.Path != lastCSV || rd.Triggers[0].File.Size != fi.Size() || !rd.Triggers[0].File.Mtime.Equal(fi.ModTime()) {
		t.Fatalf("the run's triggers = %+v, want the arrival of %s (%d bytes, %s)", rd.Triggers, lastCSV, fi.Size(), fi.ModTime())
	}
	s.cli(t, "runs", "show", id).want(t, 0, fmt.Sprintf("triggered by  files: %s (%d bytes, modified ", lastCSV, fi.Size()))

	// The folder that is not there yet.
	cli, _ := os.ReadFile(filepath.Join(s.dir, ".sluice", "cli-token"))
	page := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+"/pipelines/waiting", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(cli)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	waitFor(t, 30*time.Second, "the missing folder on the pipeline's page", s.logs, func() bool {
		return strings.Contains(page(), "folder "+missing+" does not exist")
	})
	if p := page(); !strings.Contains(p, "Runs for files") || !strings.Contains(p, missing+"/*") {
		t.Fatalf("the pipeline's page does not say which files run it:\n%s", p)
	}
	if !strings.Contains(s.logs(), `"msg":"files trigger blocked","pipeline":"waiting"`) {
		t.Fatalf("the server's log does not say the trigger is blocked:\n%s", s.logs())
	}
	s.cli(t, "pipelines", "show", "waiting").want(t, 0, "runs for files "+missing+"/*", "blocked: folder "+missing+" does not exist")
	var detail api.PipelineDetail
	s.cli(t, "pipelines", "show", "waiting", "--json").want(t, 0).decode(t, &detail)
	if len(detail.FileTriggers) != 1 || detail.FileTriggers[0].Path != missing || !strings.Contains(detail.FileTriggers[0].Problem, "does not exist") ||
		detail.FileTriggers[0].ProblemSince == nil || detail.FileTriggers[0].WatchingSince != nil {
		t.Fatalf("the API's file_triggers = %+v, want the missing folder, never watched", detail.FileTriggers)
	}
	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the note to go once the folder is there", s.logs, func() bool {
		return !strings.Contains(page(), "does not exist")
	})
	s.cli(t, "pipelines", "show", "waiting", "--json").want(t, 0).decode(t, &detail)
	if ft := detail.FileTriggers[0]; ft.Problem != "" || ft.ProblemSince != nil || ft.WatchingSince == nil {
		t.Fatalf("the API's file trigger once the folder is there = %+v, want it watched, no problem", ft)
	}
	s.stop()
}

// TestFilesTwoSchedulersPostgres runs two `sluice scheduler` processes
// and a worker on PostgreSQL, all watching one folder: every file dropped
// there runs once, also after one scheduler stops.
func TestFilesTwoSchedulersPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	dir := t.TempDir()
	drop := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, pipes, "drop.yaml", fmt.Sprintf(`id: drop
params:
  file: {type: string, default: ""}
triggers:
  - files: {path: %s, pattern: "*.csv", stable_for: 1s, params: {file: "${{ file.path }}"}}
tasks:
  a: {noop: true}
`, drop))
	db := []string{"--db", url, "--listen", "127.0.0.1:0"}
	s1 := startProc(t, dir, "scheduler", append(db, "--pipelines", pipes)...)
	s1.waitURL(t)
	s2 := startProc(t, dir, "scheduler", append(db, "--pipelines", pipes)...)
	s2.waitURL(t)
	w := startProc(t, dir, "worker", db...)
	w.waitURL(t)
	logs := func() string { return s1.logs() + s2.logs() }
	st := openPG(t, url)
	waitFor(t, 30*time.Second, "both schedulers to watch the folder", logs, func() bool {
		return strings.Count(logs(), `"msg":"watching for files","pipeline":"drop"`) == 2 &&
			strings.Contains(logs(), `"msg":"files trigger started watching"`)
	})
	check := func(files int) {
		t.Helper()
		runs := waitRuns(t, st, "drop", files, 60*time.Second, logs)
		seen := map[string]int{}
		for _, r := range runs {
			var p struct{ File string }
			if err := json.Unmarshal(r.Params, &p); err != nil {
				t.Fatal(err)
			}
			seen[p.File]++
		}
		if len(runs) != files || len(seen) != files {
			t.Fatalf("%d runs for %d distinct files, want %d: %v", len(runs), len(seen), files, seen)
		}
	}
	for i := 0; i < 20; i++ {
		writeFile(t, drop, fmt.Sprintf("f%02d.csv", i), strings.Repeat("x", i+1))
	}
	check(20)
	if code := s1.term(t); code != 0 {
		t.Fatalf("scheduler exited %d:\n%s", code, s1.logs())
	}
	for i := 20; i < 30; i++ {
		writeFile(t, drop, fmt.Sprintf("f%02d.csv", i), "y")
	}
	check(30)
}
