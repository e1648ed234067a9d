package executor_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
)

type discard struct{}

func (discard) Line(executor.Stream, time.Time, []byte) {}

// BenchmarkRun runs `true` as a shell task, as `sluice bench shell-chain`
// does; compare with BenchmarkBareExec, which is the benchmark's baseline.
func BenchmarkRun(b *testing.B) {
	dir := b.TempDir()
	out := filepath.Join(dir, "output")
	env := append(os.Environ(), "SLUICE_OUTPUT="+out)
	b.ReportAllocs()
	for b.Loop() {
		res := executor.Run(context.Background(), &executor.Request{Script: "true", Dir: dir, Env: env, OutputFile: out, Log: discard{}})
		if res.State != sluice.AttemptSuccess {
			b.Fatalf("result = %+v", res)
		}
	}
}

// BenchmarkBareExec is what BenchmarkRun costs at least: a fork/exec of the
// same command with nothing around it.
func BenchmarkBareExec(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := exec.Command("/bin/sh", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
