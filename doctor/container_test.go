package doctor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/doctor"
	"github.com/sluice-dev/sluice/internal/enginetest"
	"github.com/sluice-dev/sluice/pipeline"
)

func TestContainerChecks(t *testing.T) {
	host := enginetest.Require(t)
	t.Parallel()
	src := `id: c
tasks:
  present: {container: {image: "` + enginetest.Image() + `", pull: never}}
  absent_never: {container: {image: "localhost/sluice-test:absent", pull: never}}
  unpullable: {container: {image: "127.0.0.1:9/sluice/absent:1"}}
  templated: {container: {image: "busybox:${{ params.tag }}"}}
params:
  tag: {type: string, default: "1.36"}
`
	p, err := pipeline.Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	check := func(e *docker.Engine, pull bool) map[string]doctor.Check {
		t.Helper()
		got := map[string]doctor.Check{}
		for _, c := range doctor.Pipeline(context.Background(), p, "", doctor.Options{Engine: e, Pull: pull, Labels: []string{}, CheckLabels: true}) {
			got[c.Task+"/"+c.What] = c
		}
		return got
	}
	e, err := docker.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := check(e, true)
	for key, want := range map[string]struct {
		ok     bool
		detail string
	}{
		"present/engine":     {true, host},
		"present/image":      {true, "is on the engine"},
		"present/labels":     {true, "container"},
		"absent_never/image": {false, "is not on the engine and the task says pull: never"},
		"unpullable/image":   {false, "cannot pull image 127.0.0.1:9/sluice/absent:1"},
		"templated/image":    {true, "depends on the run"},
	} {
		c, ok := got[key]
		if !ok || c.OK != want.ok || !strings.Contains(c.Detail, want.detail) {
			t.Errorf("%s: %+v; want ok=%v with %q", key, c, want.ok, want.detail)
		}
	}
	if _, ok := got["present/workdir"]; ok {
		t.Errorf("a container task's workdir was checked on this machine")
	}

	none, err := docker.Open("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	got = check(none, false)
	if c := got["present/engine"]; c.OK || !strings.Contains(c.Detail, "does not answer") {
		t.Errorf("no engine: %+v", c)
	}
	if c := got["present/labels"]; c.OK || !strings.Contains(c.Detail, "reaching a container engine") {
		t.Errorf("labels without an engine: %+v", c)
	}
}
