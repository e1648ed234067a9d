package pipeline_test

import (
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/pipeline"
)

const graphYAML = `
id: graph
tasks:
  load:      {depends_on: [transform, check], run: x}
  transform: {depends_on: extract, run: x}
  extract:   {run: x}
  check:     {depends_on: extract, run: x}
  alone:     {noop: true}
  report:    {depends_on: [load], run: x}
`

func TestTopoOrderAndDownstream(t *testing.T) {
	t.Parallel()
	p, err := pipeline.Parse("graph.yaml", []byte(graphYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alone", "extract", "check", "transform", "load", "report"}
	if got := p.TopoOrder(); !reflect.DeepEqual(got, want) {
		t.Errorf("TopoOrder() = %v, want %v", got, want)
	}
	tests := []struct {
		id   string
		want []string
	}{
		{"extract", []string{"check", "transform"}},
		{"load", []string{"report"}},
		{"report", nil},
		{"no_such_task", nil},
	}
	for _, tt := range tests {
		if got := p.Downstream(tt.id); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Downstream(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
