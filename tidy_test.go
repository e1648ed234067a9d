package sluice_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTreeIsTidy checks that the module is as `go mod tidy` and gofmt leave
// it: a module imported by our code but marked "// indirect", a missing or
// stale go.sum line, or an unformatted file fails here, not on the next
// person's machine. .ci/run checks the same before the tests.
func TestTreeIsTidy(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command("go", "mod", "tidy", "-diff").CombinedOutput(); err != nil {
		t.Errorf("go mod tidy -diff: %v; run `go mod tidy`:\n%s", err, out)
	}
	out, err := exec.Command("gofmt", "-l", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt -l: %v\n%s", err, out)
	}
	if files := strings.TrimSpace(string(out)); files != "" {
		t.Errorf("these files need `gofmt -w`:\n%s", files)
	}
}
