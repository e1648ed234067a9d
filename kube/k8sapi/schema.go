package k8sapi

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of JSON value a field of the Pod API holds.
type Kind int

// The kinds of Type.
const (
	KindAny         Kind = iota // any JSON value (a field the API reads itself)
	KindStruct                  // an object with the fields of Type.Fields
	KindList                    // a list of Type.Elem
	KindMap                     // an object of Type.Elem by any key
	KindString                  // text
	KindBytes                   // base64 text
	KindBool                    // true or false
	KindInt                     // an integer of Type.Name's range (int32, uint8, …)
	KindFloat                   // a number
	KindQuantity                // a resource quantity: text (see ParseQuantity) or a number
	KindIntOrString             // an integer or a name (a port)
	KindTime                    // an RFC 3339 time
)

// Type is a type of the Pod API (k8s.io/api/core/v1): what sluice checks
// a pod_template against. Name is the Go type's name for structs
// ("Toleration") and ints ("int32").
type Type struct {
	Name   string
	Kind   Kind
	Elem   *Type
	Fields map[string]*Type // by JSON name, inlined structs' included
	// Via names the embedded structs a field of Fields was promoted from
	// ("VolumeSource."), as encoding/json names it in its errors.
	Via map[string]string
}

// PodType is the type of a Pod.
func PodType() *Type { return TypeNamed("Pod") }

// TypeNamed is the struct type of the Pod API of that Go name, or nil.
func TypeNamed(name string) *Type {
	schemaOnce.Do(decodeSchema)
	return schemaTypes[name]
}

var (
	schemaOnce  sync.Once
	schemaTypes map[string]*Type
)

// decodeSchema reads podSchema (tables.go), on first use: the schema is
// kept as text so that a process that never reads a pod_template pays
// nothing for it. Each line is a struct type: its name, then its fields
// as name=type, tab-separated. A type is a scalar's letter (see
// scalarKinds), an int's Go name, []T for a list, {}T for a map, or
// @Name for a struct. A field promoted from embedded structs is written
// with their names: VolumeSource.secret=@SecretVolumeSource.
func decodeSchema() {
	schemaTypes = map[string]*Type{}
	lines := strings.Split(strings.TrimSpace(podSchema), "\n")
	named := func(name string) *Type {
		t := schemaTypes[name]
		if t == nil {
			t = &Type{Name: name, Kind: KindStruct, Fields: map[string]*Type{}, Via: map[string]string{}}
			schemaTypes[name] = t
		}
		return t
	}
	var parse func(s string) *Type
	parse = func(s string) *Type {
		switch {
		case strings.HasPrefix(s, "[]"):
			return &Type{Kind: KindList, Elem: parse(s[2:])}
		case strings.HasPrefix(s, "{}"):
			return &Type{Kind: KindMap, Elem: parse(s[2:])}
		case strings.HasPrefix(s, "@"):
			return named(s[1:])
		case strings.HasPrefix(s, "int"), strings.HasPrefix(s, "uint"):
			return &Type{Name: s, Kind: KindInt}
		}
		if k, ok := scalarKinds[s]; ok {
			return &Type{Kind: k}
		}
		panic("k8sapi: bad type in podSchema: " + s)
	}
	for _, line := range lines {
		parts := strings.Split(line, "\t")
		t := named(parts[0])
		for _, f := range parts[1:] {
			name, typ, _ := strings.Cut(f, "=")
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				t.Via[name[i+1:]], name = name[:i+1], name[i+1:]
			}
			t.Fields[name] = parse(typ)
		}
	}
}

// scalarKinds are the letters of podSchema's scalar types.
var scalarKinds = map[string]Kind{
	"a": KindAny, "s": KindString, "y": KindBytes, "b": KindBool, "f": KindFloat,
	"q": KindQuantity, "n": KindIntOrString, "t": KindTime,
}

// FieldNames are a struct type's field names, sorted.
func (t *Type) FieldNames() []string {
	names := make([]string, 0, len(t.Fields))
	for n := range t.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ValueError is a number out of an int field's range: what decoding the
// value into the API's Go types says (encoding/json's
// UnmarshalTypeError).
type ValueError struct {
	Field string // JSON names from the root, dot-separated
	Type  string // "int32"
	Value string // "number 99999999999"
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("%s: want %s, got %s", e.Field, e.Type, e.Value)
}

// Check finds, in v (a JSON value as encoding/json decodes it, whose
// fields and kinds of values are t's), what only decoding it into the
// API's Go types would find: a number out of its int's range, a time
// that is not RFC 3339. It goes through v as decoding would (keys in
// order) and reports the first.
func (t *Type) Check(v any) error {
	return t.check(v, "")
}

func (t *Type) check(v any, path string) error {
	if v == nil {
		return nil
	}
	switch t.Kind {
	case KindStruct, KindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var first error
		for _, k := range keys {
			ft, sub := t.Elem, path
			if t.Kind == KindStruct {
				ft, sub = t.Fields[k], join(path, t.Via[k]+k)
			}
			if ft == nil {
				continue
			}
			if err := ft.check(m[k], sub); err != nil {
				if _, ok := err.(*ValueError); !ok {
					return err // decoding stops at once
				}
				if first == nil {
					first = err // decoding goes on, and reports the first
				}
			}
		}
		return first
	case KindList:
		l, ok := v.([]any)
		if !ok {
			return nil
		}
		var first error
		for _, e := range l {
			if err := t.Elem.check(e, path); err != nil {
				if _, ok := err.(*ValueError); !ok {
					return err
				}
				if first == nil {
					first = err
				}
			}
		}
		return first
	case KindInt:
		text := fmt.Sprint(v)
		bits, _ := strconv.Atoi(strings.TrimLeft(t.Name, "uint"))
		if bits == 0 {
			bits = 64
		}
		var err error
		if strings.HasPrefix(t.Name, "u") {
			_, err = strconv.ParseUint(text, 10, bits)
		} else {
			_, err = strconv.ParseInt(text, 10, bits)
		}
		if err != nil {
			return &ValueError{Field: path, Type: t.Name, Value: "number " + text}
		}
	case KindTime:
		s, ok := v.(string)
		if !ok {
			return &ValueError{Field: path, Type: "string", Value: kindText(v)}
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return err
		}
	}
	return nil
}

func kindText(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number, float64, int64, int:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
