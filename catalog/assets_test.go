package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
)

func parsed(t *testing.T, file, src string) catalog.AssetFile {
	t.Helper()
	p, err := pipeline.Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return catalog.AssetFile{File: file, Src: []byte(src), Pipeline: p}
}

// TestCheckAssets checks the warnings about asset links between files:
// an asset no pipeline produces, with its position; a cycle of three
// pipelines, reported once with its path; and nothing for a chain.
func TestCheckAssets(t *testing.T) {
	t.Parallel()
	files := []catalog.AssetFile{
		parsed(t, "a.yaml", "id: a\nschedule: {assets: [z]}\ntasks:\n  t: {run: \"true\", produces: [x]}\n"),
		parsed(t, "b.yaml", "id: b\nschedule:\n  assets:\n    any: [x, partner.drop]\ntasks:\n  t: {run: \"true\", produces: [y]}\n"),
		parsed(t, "c.yaml", "id: c\nschedule: {cron: \"@daily\", assets: [y]}\ntasks:\n  t: {run: \"true\", produces: [z]}\n"),
		parsed(t, "chain.yaml", "id: chain\nschedule: {assets: [z]}\ntasks:\n  t: {run: \"true\"}\n"),
	}
	got := catalog.CheckAssets(files)
	var lines []string
	for _, w := range got {
		lines = append(lines, w.String())
	}
	text := strings.Join(lines, "\n")
	if len(got) != 2 {
		t.Fatalf("warnings:\n%s\nwant 2: partner.drop and the cycle", text)
	}
	if w := got[0]; w.File != "a.yaml" || w.Line != 2 || w.Col != 21 || w.Pipeline != "a" ||
		!strings.Contains(w.Message, "cycle: a --x--> b --y--> c --z--> a") {
		t.Errorf("cycle warning = %+v", w)
	}
	if w := got[1]; w.File != "b.yaml" || w.Line != 4 || w.Col != 14 || !strings.Contains(w.Message, "no pipeline produces partner.drop") {
		t.Errorf("no-producer warning = %+v", w)
	}
	if !strings.HasPrefix(lines[1], "b.yaml:4:14: warning: schedule: assets: no pipeline produces partner.drop") || !strings.Contains(lines[1], "\n\thint: ") {
		t.Errorf("printed as %q", lines[1])
	}

	// The loader keeps only an AssetView of each file: the warnings are
	// the same, and a file not scheduled on assets keeps no source.
	views := make([]catalog.AssetFile, len(files))
	for i, f := range files {
		views[i] = catalog.AssetView(f)
	}
	var viewLines []string
	for _, w := range catalog.CheckAssets(views) {
		viewLines = append(viewLines, w.String())
	}
	if got := strings.Join(viewLines, "\n"); got != text {
		t.Errorf("warnings of the views:\n%s\nwant:\n%s", got, text)
	}
	if v := catalog.AssetView(parsed(t, "p.yaml", "id: p\ntasks:\n  t: {run: \"true\", produces: [x]}\n  u: {run: \"true\"}\n")); v.Src != nil || len(v.Pipeline.Tasks) != 1 {
		t.Errorf("view of a file not scheduled on assets: source %q, %d tasks; want none and the one producing task", v.Src, len(v.Pipeline.Tasks))
	}

	// Without c the cycle is gone, and y is then produced by b only: no
	// warning but partner.drop and z (a waits for z, which nobody makes).
	got = catalog.CheckAssets(files[:2])
	if len(got) != 2 || !strings.Contains(got[0].Message, "produces z") || !strings.Contains(got[1].Message, "produces partner.drop") {
		t.Fatalf("without c: %+v", got)
	}
}

// TestLoaderAssetWarnings checks that a folder's loader reports the asset
// warnings of its files and drops them when the files are fixed, while
// the files load all the same.
func TestLoaderAssetWarnings(t *testing.T) {
	t.Parallel()
	st, l, dir := setup(t)
	ctx := context.Background()
	write(t, filepath.Join(dir, "a.yaml"), "id: a\nschedule: {assets: [y]}\ntasks:\n  t: {run: \"true\", produces: [x]}\n")
	write(t, filepath.Join(dir, "b.yaml"), "id: b\nschedule: {assets: [x]}\ntasks:\n  t: {run: \"true\", produces: [y]}\n")
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ws := l.AssetWarnings()
	if len(ws) != 1 || !strings.Contains(ws[0].Message, "a --x--> b --y--> a") {
		t.Fatalf("warnings = %+v, want the cycle", ws)
	}
	for _, id := range []string{"a", "b"} {
		if p, err := st.PipelineGet(ctx, id); err != nil || p.VersionID == 0 {
			t.Fatalf("pipeline %s not loaded: %+v %v", id, p, err)
		}
	}
	// The store has them on the pipeline the warning is about.
	if p, _ := st.PipelineGet(ctx, "a"); !strings.Contains(p.AssetWarnings, "a.yaml:2:21: warning: pipelines start each other") {
		t.Fatalf("a's stored warnings = %q", p.AssetWarnings)
	}
	if p, _ := st.PipelineGet(ctx, "b"); p.AssetWarnings != "" {
		t.Fatalf("b's stored warnings = %q, want none", p.AssetWarnings)
	}
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ws := l.AssetWarnings(); len(ws) != 1 || !strings.Contains(ws[0].Message, "no pipeline produces y") {
		t.Fatalf("after removing b: %+v, want y has no producer", ws)
	}
	if p, _ := st.PipelineGet(ctx, "a"); !strings.Contains(p.AssetWarnings, "no pipeline produces y") || strings.Contains(p.AssetWarnings, "cycle") {
		t.Fatalf("a's stored warnings after removing b = %q", p.AssetWarnings)
	}
}
