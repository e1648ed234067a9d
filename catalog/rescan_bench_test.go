package catalog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkRescan is one periodic Sync of a folder of 2,000 pipeline files
// that did not change: what the loader costs every rescan interval.
func BenchmarkRescan(b *testing.B) {
	_, l, dir := setup(b)
	for i := range 2000 {
		write(b, filepath.Join(dir, fmt.Sprintf("p%04d.yaml", i)), fmt.Sprintf("id: p%04d\nschedule: \"@every 1m\"\ntasks:\n  a: {noop: true}\n", i))
	}
	ctx := context.Background()
	if _, err := l.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
