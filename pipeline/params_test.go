package pipeline_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/pipeline"
)

const paramsYAML = `
id: bind
params:
  name:    {type: string, default: world}
  count:   {type: int, default: 3}
  ratio:   {type: float, default: 0.25}
  verbose: {type: bool, default: false}
  mode:    {type: enum, values: [fast, safe], default: safe}
  date:    {type: string, required: true}
  limit:   {type: int}
tasks:
  t: {noop: true}
`

func TestBindParams(t *testing.T) {
	t.Parallel()
	p, err := pipeline.Parse("bind.yaml", []byte(paramsYAML))
	if err != nil {
		t.Fatal(err)
	}
	defaults := func(over map[string]any) map[string]any {
		m := map[string]any{
			"name": "world", "count": int64(3), "ratio": 0.25, "verbose": false,
			"mode": "safe", "date": "2026-01-01",
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		given   map[string]any
		want    map[string]any
		wantErr string
	}{
		{
			name:  "defaults fill what is not given",
			given: map[string]any{"date": "2026-01-01"},
			want:  defaults(nil),
		},
		{
			name: "strings from the command line are converted",
			given: map[string]any{
				"date": "2026-01-01", "count": "7", "ratio": "1.5", "verbose": "true",
				"mode": "fast", "name": "42", "limit": "-2",
			},
			want: defaults(map[string]any{
				"count": int64(7), "ratio": 1.5, "verbose": true, "mode": "fast", "name": "42", "limit": int64(-2),
			}),
		},
		{
			name: "JSON values are typed",
			given: map[string]any{
				"date": "2026-01-01", "count": float64(8), "ratio": json.Number("0.5"),
				"verbose": true, "limit": json.Number("9"),
			},
			want: defaults(map[string]any{"count": int64(8), "ratio": 0.5, "verbose": true, "limit": int64(9)}),
		},
		{
			name:  "Go integers, and an integer for a float",
			given: map[string]any{"date": "2026-01-01", "count": int(10), "limit": int64(11), "ratio": 2},
			want:  defaults(map[string]any{"count": int64(10), "limit": int64(11), "ratio": float64(2)}),
		},
		{
			name:  "nil counts as not given",
			given: map[string]any{"date": "2026-01-01", "count": nil},
			want:  defaults(nil),
		},
		{
			name:    "not an int",
			given:   map[string]any{"date": "d", "count": "abc"},
			wantErr: `invalid params: param "count": want an int, got "abc"`,
		},
		{
			name:    "a fraction is not an int",
			given:   map[string]any{"date": "d", "count": 1.5},
			wantErr: `invalid params: param "count": want an int, got 1.5`,
		},
		{
			name:    "not a bool",
			given:   map[string]any{"date": "d", "verbose": "maybe"},
			wantErr: `invalid params: param "verbose": want true or false, got "maybe"`,
		},
		{
			name:    "not a number",
			given:   map[string]any{"date": "d", "ratio": "NaN"},
			wantErr: `invalid params: param "ratio": want a number, got "NaN"`,
		},
		{
			name:    "a number is not a string",
			given:   map[string]any{"date": "d", "name": 5.0},
			wantErr: `invalid params: param "name": want a string, got 5`,
		},
		{
			name:    "not one of the enum values",
			given:   map[string]any{"date": "d", "mode": "slow"},
			wantErr: `invalid params: param "mode": want one of fast, safe, got "slow"`,
		},
		{
			name:    "unknown param",
			given:   map[string]any{"date": "d", "cuont": 1},
			wantErr: `invalid params: param "cuont": no such param; did you mean "count"?`,
		},
		{
			name:    "missing required param",
			given:   map[string]any{},
			wantErr: `invalid params: param "date": missing: it is required and has no default`,
		},
		{
			name:  "every problem at once",
			given: map[string]any{"count": "x", "mode": 3, "zzz": true},
			wantErr: `invalid params: param "count": want an int, got "x"; ` +
				`param "date": missing: it is required and has no default; ` +
				`param "mode": want one of fast, safe, got 3; ` +
				`param "zzz": no such param; the params are count, date, limit, mode, name, ratio, verbose`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.BindParams(tt.given)
			if tt.wantErr != "" {
				var se *sluice.Error
				if !errors.As(err, &se) || se.Code != sluice.EINVALID {
					t.Fatalf("BindParams error = %#v, want a *sluice.Error with code %q", err, sluice.EINVALID)
				}
				if se.Message != tt.wantErr {
					t.Errorf("message:\n got %s\nwant %s", se.Message, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("BindParams: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("BindParams =\n %#v\nwant\n %#v", got, tt.want)
			}
		})
	}
}

func TestBindParamsNoParams(t *testing.T) {
	t.Parallel()
	p, err := pipeline.Parse("none.yaml", []byte("id: none\ntasks: {t: {noop: true}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.BindParams(nil); err != nil || len(got) != 0 {
		t.Errorf("BindParams(nil) = %v, %v; want an empty map", got, err)
	}
	_, err = p.BindParams(map[string]any{"x": "1"})
	want := `invalid params: param "x": no such param; pipeline "none" takes no params`
	if err == nil || err.Error() != want {
		t.Errorf("BindParams = %v, want %s", err, want)
	}
}
