package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaPath = "../docs/pipeline.schema.json"

// schemaExempt lists the invalid testdata files whose only errors a JSON
// Schema cannot express, because they relate values in different places or
// need knowledge a pattern does not have. The schema accepts them; Parse
// rejects them. TestSchema checks both, so the list stays exact.
var schemaExempt = map[string]string{
	// A cycle is a property of the whole task graph.
	"invalid/cycle.yaml": "dependency cycle",
	// depends_on would have to be compared with the task's own key.
	"invalid/self_dependency.yaml": "self dependency",
	// depends_on would have to be looked up among the keys of tasks.
	"invalid/unknown_dependency.yaml": "unknown dependency",
	// Two dates would have to be compared.
	"invalid/end_before_start.yaml": "end before start",
	// "0 0 30 2 *" is well formed, but February has no 30th.
	"invalid/never_fires.yaml": "cron that never fires",
	// A duration's length would have to be computed from its units.
	"invalid/retention.yaml": "retention under an hour",
	// The schema's recursive any:/all: has no depth to count.
	"invalid/assets_deep.yaml": "any:/all: nested too deep",
	// Expressions are text to the schema; which fields may name secrets,
	// and which secrets, is checked by the parser.
	"invalid/secret_refs.yaml": "secrets in expressions",
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://sluice.dev/pipeline.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return sch
}

// yamlToJSON converts a YAML file to the JSON value a schema validates.
// YAML errors (bad syntax, duplicate keys, unknown aliases) and files of
// more than one document fail, which the test counts as rejected.
func yamlToJSON(src []byte) (any, error) {
	// The YAML reader accepts only "%YAML 1.1"; editors take 1.2 too.
	src = bytes.ReplaceAll(src, []byte("%YAML 1.2"), []byte("%YAML 1.1"))
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var v any
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// validateYAML reports whether the schema accepts the YAML file at path,
// and why not.
func validateYAML(t *testing.T, sch *jsonschema.Schema, path string) error {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := yamlToJSON(src)
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

func TestSchema(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	glob := func(pattern string) []string {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		return paths
	}
	// Files the schema must accept: the examples, when there are any, and
	// the valid testdata.
	accept := glob("../examples/*.yaml")
	accept = append(accept, glob("testdata/valid/*.yaml")...)
	accept = append(accept, glob("testdata/hash/*.yaml")...)
	for _, path := range accept {
		if err := validateYAML(t, sch, path); err != nil {
			t.Errorf("schema rejects valid %s: %v", path, err)
		}
	}
	invalid := glob("testdata/invalid/*.yaml")
	if len(invalid) == 0 {
		t.Fatal("no invalid testdata")
	}
	seen := map[string]bool{}
	for _, path := range invalid {
		name := filepath.ToSlash(path[len("testdata/"):])
		err := validateYAML(t, sch, path)
		if _, exempt := schemaExempt[name]; !exempt {
			if err == nil {
				t.Errorf("schema accepts invalid %s", path)
			}
			continue
		}
		seen[name] = true
		if err != nil {
			t.Errorf("schema rejects %s, which is listed in schemaExempt; remove it from the list: %v", path, err)
		}
		src, _ := os.ReadFile(path)
		if _, err := Parse(name, src); err == nil {
			t.Errorf("Parse accepts %s", path)
		}
	}
	for name := range schemaExempt {
		if !seen[name] {
			t.Errorf("schemaExempt lists %s, which is not in testdata", name)
		}
	}
}

// TestSchemaTimezones checks that the schema's timezone enum is the list
// the parser accepts; both come from go generate ./pipeline.
func TestSchemaTimezones(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			Timezone struct {
				Enum []string `json:"enum"`
			} `json:"timezone"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.Defs.Timezone.Enum, zoneNames) {
		t.Errorf("the timezone enum of %s differs from zoneNames; run go generate ./pipeline", schemaPath)
	}
}

// TestSchemaAgreesWithParser checks the schema's patterns for schedules,
// durations and dates against the parser on values written both ways.
func TestSchemaAgreesWithParser(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	tests := []struct {
		key, value string
		// onlyParserRejects marks values the schema cannot tell apart from
		// good ones.
		onlyParserRejects bool
	}{
		{key: "schedule", value: "0 3 * * *"},
		{key: "schedule", value: "*/15 9-17 * * mon-fri"},
		{key: "schedule", value: "0,30 0-23/2 1-15 jan-jun 0"},
		{key: "schedule", value: "0 3 ? * SUN"},
		{key: "schedule", value: "@daily"},
		{key: "schedule", value: "@midnight"},
		{key: "schedule", value: "@every 1h30m"},
		{key: "schedule", value: "0 3 * *"},
		{key: "schedule", value: "0 0 3 * * *"},
		{key: "schedule", value: "60 * * * *"},
		{key: "schedule", value: "0 24 * * *"},
		{key: "schedule", value: "0 0 0 * *"},
		{key: "schedule", value: "0 0 * 13 *"},
		{key: "schedule", value: "0 0 * * 7"},
		{key: "schedule", value: "@fortnightly"},
		{key: "schedule", value: "@every 2d"},
		{key: "schedule", value: "every day"},
		{key: "schedule", value: ""},
		{key: "schedule", value: "0 0 30 2 *", onlyParserRejects: true},
		{key: "schedule", value: "@every 0s", onlyParserRejects: true},
		{key: "schedule", value: "*/0 * * * *", onlyParserRejects: true},
		{key: "timeout", value: "30s"},
		{key: "timeout", value: "1d12h"},
		{key: "timeout", value: "1.5h"},
		{key: "timeout", value: "1h0m0s"},
		{key: "timeout", value: "0s"},
		{key: "timeout", value: "0.0m0s"},
		{key: "timeout", value: "30"},
		{key: "timeout", value: "-5m"},
		{key: "timeout", value: ".5h"},
		{key: "timeout", value: "5 m"},
		{key: "timeout", value: "1w"},
		{key: "start", value: "2026-01-31"},
		{key: "start", value: "2026-01-31T06:00:00"},
		{key: "start", value: "2026-01-31T06:00:00.5"},
		{key: "start", value: "2026-01-31T06:00:00Z"},
		{key: "start", value: "2026-01-31T06:00:00+01:00"},
		{key: "start", value: "2026-1-31"},
		{key: "start", value: "31/01/2026"},
		{key: "start", value: "2026-01-31 06:00:00"},
		{key: "start", value: "2026-02-30", onlyParserRejects: true},
	}
	for _, tt := range tests {
		doc := map[string]any{"id": "p", "tasks": map[string]any{"t": map[string]any{"noop": true}}}
		if tt.key == "timeout" {
			doc["defaults"] = map[string]any{"timeout": tt.value}
		} else {
			doc[tt.key] = tt.value
		}
		src, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, parseErr := Parse("p.json", src)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := sch.Validate(v)
		parserOK, schemaOK := parseErr == nil, schemaErr == nil
		switch {
		case tt.onlyParserRejects && (parserOK || !schemaOK):
			t.Errorf("%s %q: parser ok %v, schema ok %v; want only the parser to reject it", tt.key, tt.value, parserOK, schemaOK)
		case !tt.onlyParserRejects && parserOK != schemaOK:
			t.Errorf("%s %q: parser ok %v (%v), schema ok %v (%v)", tt.key, tt.value, parserOK, parseErr, schemaOK, schemaErr)
		}
	}
}
