package doctor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/doctor"
	"github.com/sluice-dev/sluice/pipeline"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "scripts"), 0o755)
	os.WriteFile(filepath.Join(dir, "scripts", "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	src := `id: d
tasks:
  ok_cmd: {command: [sh, -c, "true"]}
  rel_cmd: {command: [./scripts/run.sh]}
  missing_cmd: {command: [no-such-program-xyz]}
  ok_interp: {interpreter: sh, run: "true"}
  missing_interp: {interpreter: /opt/venvs/gone/bin/python, run: print(1)}
  broken_interp: {interpreter: [sh, -c, "exit 3"], run: "true"}
  bad_dir: {workdir: /no/such/dir, run: "true"}
  gpu: {requires: [gpu, cuda12], run: "true"}
`
	file := filepath.Join(dir, "d.yaml")
	p, err := pipeline.Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	checks := doctor.Pipeline(context.Background(), p, file, doctor.Options{Labels: []string{"gpu"}, CheckLabels: true})
	got := map[string]doctor.Check{}
	for _, c := range checks {
		got[c.Task+"/"+c.What] = c
	}
	for key, want := range map[string]struct {
		ok     bool
		detail string
	}{
		"ok_cmd/command":             {true, "/sh"},
		"rel_cmd/command":            {true, "scripts/run.sh"},
		"missing_cmd/command":        {false, "no-such-program-xyz is not on the PATH"},
		"ok_interp/interpreter":      {true, "/sh"},
		"missing_interp/interpreter": {false, "/opt/venvs/gone/bin/python does not exist"},
		"broken_interp/interpreter":  {false, "does not run: exit status 3"},
		"bad_dir/workdir":            {false, "/no/such/dir does not exist"},
		"gpu/labels":                 {false, "needs label(s) cuda12"},
		"ok_cmd/workdir":             {true, dir},
	} {
		c, ok := got[key]
		if !ok {
			t.Errorf("no check %s", key)
			continue
		}
		if c.OK != want.ok || !strings.Contains(c.Detail, want.detail) {
			t.Errorf("%s = %v %q, want %v %q", key, c.OK, c.Detail, want.ok, want.detail)
		}
	}
	if n := len(doctor.Problems(checks)); n != 5 {
		t.Errorf("%d problems: %v", n, doctor.Problems(checks))
	}
}

// A Checker runs each interpreter once per folder, however many tasks
// and pipelines name it, and still reports it on every task.
func TestCheckerRunsEachInterpreterOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	runsLog := filepath.Join(dir, "runs.log")
	// The interpreter counts its runs, one line each, with the folder it ran in.
	count := filepath.Join(dir, "count.sh")
	os.WriteFile(count, []byte("#!/bin/sh\npwd >> "+runsLog+"\n"), 0o755)
	broken := filepath.Join(dir, "broken.sh")
	os.WriteFile(broken, []byte("#!/bin/sh\npwd >> "+runsLog+"\nexit 4\n"), 0o755)
	var src strings.Builder
	src.WriteString("id: many\ntasks:\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&src, "  t%d: {interpreter: [sh, %s], run: \"true\"}\n", i, count)
	}
	fmt.Fprintf(&src, "  elsewhere: {interpreter: [sh, %s], workdir: %s, run: \"true\"}\n", count, other)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&src, "  b%d: {interpreter: [sh, %s], run: \"true\"}\n", i, broken)
	}
	file := filepath.Join(dir, "many.yaml")
	p, err := pipeline.Parse(file, []byte(src.String()))
	if err != nil {
		t.Fatal(err)
	}
	again, err := pipeline.Parse(filepath.Join(dir, "again.yaml"), []byte(strings.Replace(src.String(), "id: many", "id: again", 1)))
	if err != nil {
		t.Fatal(err)
	}
	check := doctor.NewChecker(doctor.Options{})
	checks := append(check.Pipeline(context.Background(), p, file), check.Pipeline(context.Background(), again, filepath.Join(dir, "again.yaml"))...)
	interps, failed := 0, 0
	for _, c := range checks {
		if c.What != "interpreter" {
			continue
		}
		interps++
		if !c.OK {
			failed++
			if !strings.Contains(c.Detail, "does not run: exit status 4") {
				t.Errorf("%s/%s: %q", c.Pipeline, c.Task, c.Detail)
			}
		}
	}
	if interps != 2*44 || failed != 2*3 {
		t.Errorf("%d interpreter checks, %d failed; want %d and %d", interps, failed, 2*44, 2*3)
	}
	data, err := os.ReadFile(runsLog)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(data))
	slices.Sort(got)
	want := []string{dir, dir, other} // count.sh in dir and in other, broken.sh in dir
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the interpreters ran %d times, want once per interpreter and folder: %q", len(got), want)
	}
}

// Problems gives one line per pipeline and problem, however many tasks
// share it.
func TestProblemsGrouped(t *testing.T) {
	t.Parallel()
	var checks []doctor.Check
	for i := 0; i < 1000; i++ {
		checks = append(checks, doctor.Check{Pipeline: "p", Task: fmt.Sprintf("t%d", i), What: "workdir", Detail: "/gone does not exist on this machine"})
		checks = append(checks, doctor.Check{Pipeline: "p", Task: fmt.Sprintf("t%d", i), What: "command", OK: true, Detail: "/bin/sh"})
	}
	checks = append(checks,
		doctor.Check{Pipeline: "p", Task: "x", What: "command", Detail: "nope is not on the PATH"},
		doctor.Check{Pipeline: "q", Task: "y", What: "workdir", Detail: "/gone does not exist on this machine"},
		doctor.Check{Pipeline: "q", Task: "z", What: "workdir", Detail: "/gone does not exist on this machine"})
	got := doctor.Problems(checks)
	want := []string{
		"p/t0 (and 999 more tasks) workdir: /gone does not exist on this machine",
		"p/x command: nope is not on the PATH",
		"q/y (and 1 more task) workdir: /gone does not exist on this machine",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%q\nwant\n%q", got, want)
	}
}
