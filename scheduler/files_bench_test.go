package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// BenchmarkFilesScanLargeFolder measures a files trigger on a folder of
// 100,000 matching files on SQLite: the first watch (the backlog of all of
// them) once, then what each later scan costs, with the heap it keeps.
//
//	go test ./scheduler -run '^$' -bench FilesScanLargeFolder -benchtime 20x
func BenchmarkFilesScanLargeFolder(b *testing.B) {
	const files = 100_000
	dir := b.TempDir()
	for i := 0; i < files; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d.csv", i)), []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	clock := sluicetest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	st, err := sqlite.Open(context.Background(), b.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fb := &filesBundle{t: &testing.T{}, ctx: context.Background(), st: st, clock: clock, dir: dir}
	fb.save("big", dir, "")
	s := scheduler.New(scheduler.Config{Store: st, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetentionEvery: -1})
	start := time.Now()
	if err := s.ScanFiles(context.Background()); err != nil {
		b.Fatal(err)
	}
	first := time.Since(start)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := s.ScanFiles(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/scan")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(first.Milliseconds()), "first-watch-ms")
	runtime.KeepAlive(s)
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
