package pipeline_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/pipeline"
)

const structuredYAML = `
id: structured
params:
  tables: {type: list, default: [orders, customers]}
  ids:    {type: list, items: int, default: []}
  ratios: {type: list, items: float}
  config: {type: object, default: {mode: full, batch: 100, tags: [a, b], ratio: 0.5}}
  extra:  {type: json}
tasks:
  t: {noop: true}
`

// TestStructuredParams binds list, object and json params from every
// source: typed values (the API's JSON), text (the command line, the
// trigger form), and the file's defaults; and checks what is refused.
func TestStructuredParams(t *testing.T) {
	t.Parallel()
	p, err := pipeline.Parse("s.yaml", []byte(structuredYAML))
	if err != nil {
		t.Fatal(err)
	}
	config := map[string]any{"mode": "full", "batch": int64(100), "tags": []any{"a", "b"}, "ratio": 0.5}
	tests := []struct {
		name    string
		given   map[string]any
		want    map[string]any // the params checked, of those bound
		wantErr string
	}{
		{"defaults", nil, map[string]any{"tables": []any{"orders", "customers"}, "ids": []any{}, "config": config}, ""},
		{"commas", map[string]any{"tables": "a, b,,c"}, map[string]any{"tables": []any{"a", "b", "c"}}, ""},
		{"lines", map[string]any{"tables": "a\nb, c\n\n"}, map[string]any{"tables": []any{"a", "b, c"}}, ""},
		{"empty text is the empty list", map[string]any{"tables": ""}, map[string]any{"tables": []any{}}, ""},
		{"JSON text", map[string]any{"tables": `["x", "y"]`, "ids": "[1, 2]"}, map[string]any{"tables": []any{"x", "y"}, "ids": []any{int64(1), int64(2)}}, ""},
		{"typed", map[string]any{"ids": []any{float64(3), "4"}, "ratios": []any{1, 0.5}}, map[string]any{"ids": []any{int64(3), int64(4)}, "ratios": []any{1.0, 0.5}}, ""},
		{"object text", map[string]any{"config": `{"a": {"b": [1, 2.5]}}`}, map[string]any{"config": map[string]any{"a": map[string]any{"b": []any{int64(1), 2.5}}}}, ""},
		{"json anything", map[string]any{"extra": `"text"`}, map[string]any{"extra": "text"}, ""},
		{"json number", map[string]any{"extra": 7}, map[string]any{"extra": int64(7)}, ""},
		{"bad item", map[string]any{"ids": "1,x"}, nil, `param "ids": item 2: want an int, got "x"`},
		{"not a list", map[string]any{"tables": true}, nil, `param "tables": want a list, got true`},
		{"bad JSON list", map[string]any{"tables": `["a"`}, nil, `param "tables": want a JSON array or items separated by commas or newlines`},
		{"object not an object", map[string]any{"config": `[1]`}, nil, `param "config": want a JSON object, got [1]`},
		{"json not JSON", map[string]any{"extra": `{nope`}, nil, `param "extra": want JSON`},
		{"null item", map[string]any{"tables": []any{"a", nil}}, nil, `param "tables": item 2 is null`},
		{"too large", map[string]any{"tables": strings.Repeat("x,", 40000)}, nil, "bytes of JSON; at most 65536 are allowed"},
	}
	for _, tt := range tests {
		got, err := p.BindParams(tt.given)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for k, want := range tt.want {
			if !reflect.DeepEqual(got[k], want) {
				t.Errorf("%s: %s = %#v, want %#v", tt.name, k, got[k], want)
			}
		}
	}
	// The stored version reads back the same, typed.
	q, err := pipeline.Decode(p.Normalized())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Params, p.Params) || q.Hash() != p.Hash() {
		t.Fatalf("decoded params differ:\n%#v\n%#v", q.Params["config"], p.Params["config"])
	}
}

// TestStructuredParamErrors: mistakes in a structured param's
// declaration, with their positions.
func TestStructuredParamErrors(t *testing.T) {
	t.Parallel()
	src := `id: bad
params:
  a: {type: list, default: orders}
  b: {type: list, items: int, default: [1, x]}
  c: {type: string, items: int}
  d: {type: list, items: date}
  e: {type: object, default: [1]}
  f: {type: lsit}
tasks:
  t: {noop: true}
`
	_, err := pipeline.Parse("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`bad.yaml:3:28: param "a": default "orders" is not a list`,
		`bad.yaml:4:40: param "b": default: item 2: want an int, got "x"`,
		`bad.yaml:5:21: param "c": items: is only for list params`,
		`bad.yaml:6:26: param "d": items: unknown type "date"`,
		`bad.yaml:7:30: param "e": default: want a JSON object, got [1]`,
		`bad.yaml:8:13: param "f": unknown type "lsit"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
