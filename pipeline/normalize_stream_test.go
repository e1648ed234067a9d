package pipeline

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestNormalizedIsTheEncodersOutput: Normalized, written a task at a time,
// is byte for byte what json.Encoder writes of the whole pipeline, for
// every valid golden file, a pipeline of every example, and odd task ids.
func TestNormalizedIsTheEncodersOutput(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	examples, _ := filepath.Glob("../examples/*.yaml")
	files = append(files, examples...)
	if len(files) < 10 {
		t.Fatalf("found %d files", len(files))
	}
	whole := func(p *Pipeline) []byte {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(f, src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got, want := p.Normalized(), whole(p); !bytes.Equal(got, want) {
			t.Errorf("%s: Normalized differs from the encoder's output:\n%s\nwant\n%s", f, got, want)
		}
	}
	p := &Pipeline{ID: "x", Tasks: map[string]*Task{}}
	if got, want := p.Normalized(), whole(p); !bytes.Equal(got, want) {
		t.Errorf("no tasks:\n%s\nwant\n%s", got, want)
	}
	p.Tasks["a<b&c>"] = &Task{ID: "a<b&c>", Kind: KindNoop, Run: "echo '<&>'"}
	p.Tasks["z"] = &Task{ID: "z", Kind: KindNoop}
	if got, want := p.Normalized(), whole(p); !bytes.Equal(got, want) {
		t.Errorf("odd ids:\n%s\nwant\n%s", got, want)
	}
}
