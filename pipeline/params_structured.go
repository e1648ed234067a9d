package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Structured params: a list (of strings, ints or floats: Param.Items), an
// object (a JSON object) or json (any JSON value). A run holds them typed,
// so an expression reads a list as a list (for_each: ${{ params.tables }}
// maps one instance per item, none for an empty list), and a task's
// environment holds their JSON ($SLUICE_PARAM_TABLES='["a","b"]').
//
// From text (sluice run -p, the trigger form, a webhook's string), a list
// is a JSON array ("[\"a\",\"b\"]") or items separated by newlines, else
// by commas ("a,b"; blank items are dropped, so "" is the empty list);
// an object and json are JSON text.

// The structured param types.
const (
	ParamList   ParamType = "list"
	ParamObject ParamType = "object"
	ParamJSON   ParamType = "json"
)

// listItemTypes are the item types a list param may have.
var listItemTypes = []string{"string", "int", "float"}

// maxParamJSON bounds the JSON of one structured param value.
const maxParamJSON = 64 << 10

// bindList converts v to a list of prm.Items.
func (prm *Param) bindList(v any) (any, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case []string:
		for _, s := range x {
			items = append(items, s)
		}
	case string:
		t := strings.TrimSpace(x)
		if strings.HasPrefix(t, "[") {
			l, err := decodeJSONList([]byte(t))
			if err != nil {
				return nil, fmt.Errorf("want a JSON array or items separated by commas or newlines: %v", err)
			}
			items = l
			break
		}
		sep := ","
		if strings.Contains(t, "\n") {
			sep = "\n"
		}
		for _, part := range strings.Split(t, sep) {
			if part = strings.TrimSpace(part); part != "" {
				items = append(items, part)
			}
		}
	default:
		return nil, wantGot("a list", v)
	}
	out := make([]any, 0, len(items))
	item := Param{Type: prm.itemType()}
	for i, it := range items {
		if it == nil {
			return nil, fmt.Errorf("item %d is null", i+1)
		}
		b, err := item.bind(it)
		if err != nil {
			return nil, fmt.Errorf("item %d: %v", i+1, err)
		}
		out = append(out, b)
	}
	return out, checkJSONSize(out)
}

// itemType is the type of a list's items: string unless Items says.
func (prm *Param) itemType() ParamType {
	if prm.Items == "" {
		return ParamString
	}
	return prm.Items
}

// bindJSON converts v to an object (object: true) or any JSON value.
func (prm *Param) bindJSON(v any, object bool) (any, error) {
	want := "JSON"
	if object {
		want = "a JSON object"
	}
	if s, ok := v.(string); ok {
		var x any
		if err := decodeJSONValue([]byte(s), &x); err != nil {
			return nil, fmt.Errorf("want %s: %v", want, err)
		}
		v = x
	}
	v, err := plainJSON(v)
	if err != nil {
		return nil, fmt.Errorf("want %s: %v", want, err)
	}
	if _, isMap := v.(map[string]any); object && !isMap {
		return nil, wantGot(want, v)
	}
	return v, checkJSONSize(v)
}

func checkJSONSize(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxParamJSON {
		return fmt.Errorf("%d bytes of JSON; at most %d are allowed", len(b), maxParamJSON)
	}
	return nil
}

// decodeJSONValue decodes one JSON value, numbers as int64 when whole and
// float64 otherwise, as a pipeline file's YAML gives them.
func decodeJSONValue(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one value")
	}
	y, err := plainJSON(x)
	if err != nil {
		return err
	}
	*v = y
	return nil
}

// decodeJSONList is decodeJSONValue for a JSON array.
func decodeJSONList(b []byte) ([]any, error) {
	var x any
	if err := decodeJSONValue(b, &x); err != nil {
		return nil, err
	}
	l, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON array")
	}
	return l, nil
}

// plainJSON returns v with the Go types of a decoded pipeline value: maps
// of string keys, []any, string, bool, nil, int64 for whole numbers and
// float64 otherwise.
func plainJSON(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int64:
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", x)
		}
		return f, nil
	case float64:
		if n, ok := floatToInt(x); ok && !strings.ContainsAny(strconv.FormatFloat(x, 'g', -1, 64), ".e") {
			return n, nil
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("not a finite number")
		}
		return x, nil
	case int:
		return int64(x), nil
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			y, err := plainJSON(it)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			y, err := plainJSON(it)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	}
	// Anything else (a struct from Go code): through its JSON.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var y any
	err = decodeJSONValue(b, &y)
	return y, err
}

// yamlValue converts a YAML value of a pipeline file to the Go value a
// structured param holds; aliases are resolved.
func (p *parser) yamlValue(n *yaml.Node, where string) (any, bool) {
	n = p.resolve(n)
	switch kindOf(n) {
	case kindMap:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := p.resolve(n.Content[i])
			if !isScalar(k) {
				p.errorf(posOf(k), "use text keys", "%s: a key of the default is not text", where)
				return nil, false
			}
			v, ok := p.yamlValue(n.Content[i+1], where)
			if !ok {
				return nil, false
			}
			out[k.Value] = v
		}
		return out, true
	case kindList:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, ok := p.yamlValue(c, where)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case kindInt:
		if i, ok := intValue(n.Value); ok {
			return i, true
		}
		p.errorf(posOf(n), "", "%s: %s is too large", where, shorten(n.Value))
		return nil, false
	case kindFloat:
		f := floatValue(n.Value)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			p.errorf(posOf(n), "", "%s: %s is not a finite number", where, shorten(n.Value))
			return nil, false
		}
		return f, true
	case kindBool:
		return boolValue(n.Value), true
	case kindNull:
		return nil, true
	}
	return n.Value, true
}

// structuredDefault reads the default of a list, object or json param.
func (p *parser) structuredDefault(e entry, where string, prm *Param) any {
	v, ok := p.yamlValue(e.val, where+": default")
	if !ok {
		return nil
	}
	var (
		b   any
		err error
	)
	switch prm.Type {
	case ParamList:
		if _, isList := v.([]any); !isList {
			p.errorf(e.valAt, "write a list, e.g. default: [orders, customers]", "%s: default %s is not a list", where, describe(e.val))
			return nil
		}
		b, err = prm.bindList(v)
	case ParamObject:
		b, err = prm.bindJSON(v, true)
	default:
		b, err = prm.bindJSON(v, false)
	}
	if err != nil {
		p.errorf(e.valAt, "", "%s: default: %v", where, err)
		return nil
	}
	return b
}
