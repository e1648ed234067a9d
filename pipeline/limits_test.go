package pipeline_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/yamlgen"
	"github.com/sluice-dev/sluice/pipeline"
)

// parseErrors parses src and returns its errors, failing when it parses.
func parseErrors(t *testing.T, src []byte) pipeline.ErrorList {
	t.Helper()
	_, err := pipeline.Parse("f.yaml", src)
	var list pipeline.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("Parse error = %v, want an ErrorList", err)
	}
	return list
}

// wantError checks that src fails with one error at line:col whose
// message contains msg.
func wantError(t *testing.T, src []byte, line, col int, msg string) {
	t.Helper()
	list := parseErrors(t, src)
	e := list[0]
	if len(list) != 1 || e.Line != line || e.Col != col || !strings.Contains(e.Msg, msg) || e.Hint == "" {
		t.Fatalf("errors = %v, want one at %d:%d with %q and a hint", list, line, col, msg)
	}
}

// Nesting is refused at the first value past the limit, whichever way it
// is written and however deep the file goes: past the YAML reader's own
// limit (10,000 levels) too, where the position comes from a scan.
func TestNestingIsBounded(t *testing.T) {
	for _, levels := range []int{65, 100, 9_000, 20_000, 200_000} {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			flow := "id: p\nx: " + strings.Repeat("[", levels) + strings.Repeat("]", levels) + "\n"
			wantError(t, []byte(flow), 2, 67, "nesting deeper than 64 levels")
			flowMap := "id: p\nx: " + strings.Repeat("{a: ", levels) + "1" + strings.Repeat("}", levels) + "\n"
			wantError(t, []byte(flowMap), 2, 4+4*63, "nesting deeper than 64 levels")
			block := "id: p\nx:\n  " + strings.Repeat("- ", levels) + "a\n"
			wantError(t, []byte(block), 3, 3+2*63, "nesting deeper than 64 levels")
			list := strings.Repeat("[", levels) + strings.Repeat("]", levels) + "\n"
			wantError(t, []byte(list), 1, 65, "nesting deeper than 64 levels")
		})
	}
	var b strings.Builder
	b.WriteString("id: p\n")
	for d := range 100 {
		b.WriteString(strings.Repeat(" ", d) + "a:\n")
	}
	wantError(t, []byte(b.String()), 66, 65, "nesting deeper than 64 levels")
	// 64 levels are fine as far as nesting goes (x is then unknown).
	ok := "id: p\nx: " + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "\n"
	if list := parseErrors(t, []byte(ok)); strings.Contains(list.Error(), "nesting") {
		t.Fatalf("64 levels refused: %v", list)
	}
}

// Aliases may add about as many values as the file writes out: a billion
// laughs is refused at the alias that crosses the line, and an alias used
// inside its own anchor is refused rather than followed.
func TestAliasesAreBounded(t *testing.T) {
	bomb, err := yamlgen.Generate("alias-bomb", 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	list := parseErrors(t, bomb)
	if !strings.Contains(list[0].Msg, "aliases here make the file hold") || list[0].Line < 3 {
		t.Fatalf("billion laughs: %v", list)
	}
	heavy, err := yamlgen.Generate("alias-heavy", 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if list := parseErrors(t, heavy); !strings.Contains(list[0].Msg, "aliases here make the file hold") {
		t.Fatalf("alias-heavy: %v", list)
	}
	wantError(t, []byte("id: p\ntasks: &t {a: {run: x, env: *t}}\n"), 2, 29, "alias *t is used inside the value it refers to")
	// Ordinary use of aliases is fine.
	if _, err := pipeline.Parse("f.yaml", []byte("id: p\ntasks:\n  a: {run: x, env: &e {A: '1', B: '2'}}\n  b: {run: y, env: *e}\n")); err != nil {
		t.Fatal(err)
	}
}

// Variables of defaults: env: are copied into every task; their product is
// bounded like what aliases add.
func TestDefaultsEnvIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("id: p\ndefaults:\n  env:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "    V%d: v\n", i)
	}
	b.WriteString("tasks:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "  t%d: {run: x}\n", i)
	}
	wantError(t, []byte(b.String()), 3, 3, "defaults: env: gives 2000 variables to each of 2000 tasks")
}

// A file full of graph errors (cycles, unknown tasks) is reported in time
// linear in its size: the first cycles one by one and the rest in one
// error, the first unknown names with a suggestion and the rest without.
func TestGraphErrorsAreBounded(t *testing.T) {
	src, err := yamlgen.Generate("cycles", 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	cycles, more := 0, 0
	for _, e := range parseErrors(t, src) {
		switch {
		case strings.HasPrefix(e.Msg, "dependency cycle: "):
			cycles++
		case strings.HasPrefix(e.Msg, "more dependency cycles, among "):
			more++
		}
	}
	if cycles != 10 || more != 1 {
		t.Fatalf("%d cycles and %d summaries reported, want 10 and 1", cycles, more)
	}
	src, err = yamlgen.Generate("unknown-deps", 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	list := parseErrors(t, src)
	suggested := 0
	for _, e := range list {
		if strings.HasPrefix(e.Hint, "did you mean") {
			suggested++
		}
	}
	if len(list) < 5000 || suggested != 20 {
		t.Fatalf("%d errors, %d with a suggestion; want one per task and 20 suggestions", len(list), suggested)
	}
}

// A file past MaxFileSize is refused where it crosses the limit, and
// ReadFile reads no more than one byte past it.
func TestFileSizeIsBounded(t *testing.T) {
	src := []byte("id: p\ntasks: {a: {run: x}}\n" + strings.Repeat("#"+strings.Repeat("x", 99)+"\n", pipeline.MaxFileSize/100+1))
	list := parseErrors(t, src)
	if len(list) != 1 || !strings.Contains(list[0].Msg, "the most a pipeline file may have") || list[0].Line < 40000 {
		t.Fatalf("errors = %v", list)
	}
	path := t.TempDir() + "/big.yaml"
	writeFile(t, path, src)
	read, err := pipeline.ReadFile(path)
	if err != nil || len(read) != pipeline.MaxFileSize+1 {
		t.Fatalf("ReadFile = %d bytes, %v", len(read), err)
	}
}

// allocated returns the bytes Parse allocates on src.
func allocated(src []byte) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	pipeline.Parse("f.yaml", src)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A hostile file costs no more than a few times what an honest file of the
// same size costs. Memory allocated is the measure (not time, which these
// shared machines make noisy); the YAML reader sluice used before
// allocated gigabytes on the nested and wide shapes.
func TestHostileFilesCostLikeHonestOnes(t *testing.T) {
	const size = 1 << 20
	honest, err := yamlgen.Generate("honest", size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Parse("honest.yaml", honest); err != nil {
		t.Fatalf("the honest file does not parse: %v", err)
	}
	base := allocated(honest)
	for _, shape := range yamlgen.Shapes() {
		if shape == "honest" {
			continue
		}
		src, err := yamlgen.Generate(shape, size)
		if err != nil {
			t.Fatal(err)
		}
		got := allocated(src)
		t.Logf("%-16s %6.1f MB allocated, %.2f× the honest file's %.1f MB", shape, float64(got)/1e6, float64(got)/float64(base), float64(base)/1e6)
		if got > 3*base {
			t.Errorf("%s: %d bytes allocated, more than 3× the honest file's %d", shape, got, base)
		}
	}
}

func writeFile(t *testing.T, path string, src []byte) {
	t.Helper()
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
}
