package expression_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/expression"
)

var env = map[string]any{
	"params": map[string]any{"region": "eu", "limit": int64(3), "regions": []any{"eu", "us"}},
	"run":    map[string]any{"id": int64(7), "ds": "2026-03-02"},
	"tasks":  map[string]any{"extract": map[string]any{"outputs": map[string]any{"rows": "42", "files": `["a.csv","b.csv"]`}}},
	"vars":   map[string]any{"bucket": "s3://data"},
}

func TestBool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src     string
		want    bool
		wantErr string
	}{
		{`params.region == "eu"`, true, ""},
		{`${{ params.region == "us" }}`, false, ""},
		{`int(tasks.extract.outputs.rows) > 40`, true, ""},
		{`len(fromJSON(tasks.extract.outputs.files)) == 2`, true, ""},
		{`params.limit`, false, "not true or false"},
		{`tasks.extract.outputs.rows > 3`, false, "invalid operation"},
	}
	for _, tt := range tests {
		p, err := expression.Compile(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		got, err := p.Bool(env)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.src, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
	if _, err := expression.Compile("1 +"); err == nil {
		t.Error("a syntax error compiled")
	}
	if _, err := expression.Compile("${{ }}"); err == nil {
		t.Error("an empty expression compiled")
	}
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	out, err := expression.Render(`${{ vars.bucket }}/${{ run.ds }}/rows-${{ tasks.extract.outputs.rows }}.csv?limit=${{ params.limit }}`, env)
	if err != nil || out != "s3://data/2026-03-02/rows-42.csv?limit=3" {
		t.Fatalf("render = %q, %v", out, err)
	}
	if out, _ := expression.Render("no expressions $HOME {{x}}", env); out != "no expressions $HOME {{x}}" {
		t.Fatalf("plain text changed: %q", out)
	}
	if _, err := expression.ParseTemplate("a ${{ 1 + }} b"); err == nil {
		t.Fatal("bad expression in a template compiled")
	}
	if _, err := expression.ParseTemplate("a ${{ params.x"); err == nil {
		t.Fatal("an unclosed ${{ was accepted")
	}
	if got := expression.TaskRefs("${{ tasks.a.outputs.x }} and ${{ tasks.b-2.outputs.y }} ${{ tasks.a.outputs.z }}"); strings.Join(got, ",") != "a,b-2" {
		t.Fatalf("refs = %v", got)
	}
}

// A text is compiled once; its Program serves every goroutine at once.
func TestCompileKeepsPrograms(t *testing.T) {
	t.Parallel()
	src := "${{ params.n * 2 + item_index }}"
	first, err := expression.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := expression.Compile(src); again != first {
		t.Error("the same text was compiled twice")
	}
	if _, err := expression.Compile("${{ 1 + }}"); err == nil {
		t.Fatal("a bad expression compiled")
	}
	if _, err := expression.Compile("${{ 1 + }}"); err == nil {
		t.Fatal("a bad expression compiled the second time")
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got, err := expression.Render("x=${{ params.n * 2 + item_index }}", map[string]any{"params": map[string]any{"n": g}, "item_index": i})
				if want := fmt.Sprintf("x=%d", g*2+i); err != nil || got != want {
					t.Errorf("goroutine %d: %q, %v; want %q", g, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
