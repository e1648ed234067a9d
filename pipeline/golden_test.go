package pipeline_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ from the current output")

// yamlFiles returns the .yaml files of testdata/dir as paths relative to
// testdata, the form used in error positions ("invalid/cycle.yaml").
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no files in testdata/%s", dir)
	}
	for i, p := range paths {
		paths[i] = filepath.ToSlash(strings.TrimPrefix(p, "testdata"+string(filepath.Separator)))
	}
	return paths
}

// parseTestdata parses testdata/name, reporting it under name.
func parseTestdata(t *testing.T, name string) (*pipeline.Pipeline, error) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Parse(name, src)
}

// checkGolden compares got with testdata/<name without .yaml>.golden, or
// rewrites the golden file with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", strings.TrimSuffix(name, ".yaml")+".golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, name := range yamlFiles(t, "valid") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := parseTestdata(t, name)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkGolden(t, name, p.Normalized())
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, name := range yamlFiles(t, "invalid") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := parseTestdata(t, name)
			if err == nil {
				t.Fatalf("Parse succeeded, want errors; got\n%s", p.Normalized())
			}
			var list pipeline.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse error is %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != name || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Errorf("badly positioned error %#v", e)
				}
			}
			checkGolden(t, name, []byte(err.Error()+"\n"))
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	names := append(yamlFiles(t, "valid"), yamlFiles(t, "hash")...)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := parseTestdata(t, name)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			spec := p.Normalized()
			got, err := pipeline.Decode(spec)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Errorf("Decode(Normalized()) differs from the parsed pipeline:\n%s", got.Normalized())
			}
			if got.Hash() != p.Hash() {
				t.Errorf("hash after round trip = %s, want %s", got.Hash(), p.Hash())
			}
		})
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	hash := func(name string) string {
		p, err := parseTestdata(t, name)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return p.Hash()
	}
	ref := hash("hash/a.yaml")
	if len(ref) != 64 || strings.ToLower(ref) != ref {
		t.Errorf("Hash() = %q, want 64 lowercase hex digits", ref)
	}
	tests := []struct {
		name string
		same bool
	}{
		{"hash/a.yaml", true},
		{"hash/b.yaml", true},        // same meaning, written differently
		{"hash/changed.yaml", false}, // one real change
	}
	for _, tt := range tests {
		if got := hash(tt.name) == ref; got != tt.same {
			t.Errorf("Hash(%s) == Hash(hash/a.yaml) is %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{&pipeline.Error{File: "p.yaml", Line: 3, Col: 5, Msg: "bad"}, "p.yaml:3:5: bad"},
		{&pipeline.Error{File: "p.yaml", Line: 1, Col: 1, Msg: "bad", Hint: "fix it"}, "p.yaml:1:1: bad\n\thint: fix it"},
		{pipeline.ErrorList{
			{File: "p.yaml", Line: 1, Col: 1, Msg: "one"},
			{File: "p.yaml", Line: 2, Col: 1, Msg: "two", Hint: "h"},
		}, "p.yaml:1:1: one\np.yaml:2:1: two\n\thint: h"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if pipeline.ErrorList(nil).Err() != nil {
		t.Error("empty ErrorList.Err() is not nil")
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "valid", "minimal.yaml")
	p, src, err := pipeline.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(path)
	if p.ID != "hello" || !bytes.Equal(src, want) {
		t.Errorf("ParseFile = %q, %q", p.ID, src)
	}
	if _, _, err := pipeline.ParseFile(filepath.Join("testdata", "no-such-file.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile of a missing file: %v, want ErrNotExist", err)
	}
}
