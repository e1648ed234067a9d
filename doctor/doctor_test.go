package doctor_test

import (
	"context"
	"os"
	"path/filepath"
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
