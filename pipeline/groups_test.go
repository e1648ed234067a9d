package pipeline_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/pipeline"
)

// TestGroups: groups collect the tasks that name them, a groups: block
// only describes them (so it does not change the version), a declared
// group without tasks is a warning, and a file without groups keeps the
// hash it had before groups existed.
func TestGroups(t *testing.T) {
	t.Parallel()
	parse := func(src string) *pipeline.Pipeline {
		t.Helper()
		p, err := pipeline.Parse("g.yaml", []byte(src))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return p
	}
	const tasks = `
tasks:
  a: {run: echo a, group: extract}
  b: {run: echo b, group: extract}
  c: {run: echo c, depends_on: [a, b]}
`
	bare := parse("id: g" + tasks)
	declared := parse("id: g\ngroups: {extract: }" + tasks)
	if bare.Hash() != declared.Hash() {
		t.Error("an empty groups: entry changed the version hash")
	}
	if got := bare.GroupTasks("extract"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("GroupTasks(extract) = %v", got)
	}
	if got := bare.GroupNames(); !reflect.DeepEqual(got, []string{"extract"}) {
		t.Errorf("GroupNames() = %v", got)
	}
	if got := bare.GroupTasks("c"); got != nil {
		t.Errorf("GroupTasks(c) = %v, want none", got)
	}
	described := parse("id: g\ngroups: {extract: {description: Pull}, spare: {}}" + tasks)
	if described.Groups["extract"].Description != "Pull" {
		t.Errorf("description = %q", described.Groups["extract"].Description)
	}
	if len(described.Warnings) != 1 || !strings.HasPrefix(described.Warnings[0].String(), `g.yaml:2:40: warning: group "spare" has no tasks`) {
		t.Errorf("warnings = %v", described.Warnings)
	}
	if _, ok := described.Groups["spare"]; ok {
		t.Error("a group without tasks is in Groups")
	}

	// A pipeline without groups normalizes without a groups key or a
	// group field, so its hash did not change when groups came.
	plain := parse("id: g\ntasks:\n  a: {run: echo a}\n")
	if s := string(plain.Normalized()); strings.Contains(s, "group") {
		t.Errorf("normalized form mentions groups:\n%s", s)
	}
	if _, err := pipeline.Decode([]byte(strings.Replace(string(bare.Normalized()), `"group": "extract"`, `"group": "nope"`, 1))); err == nil {
		t.Error("Decode accepted a task in an unknown group")
	}
}
