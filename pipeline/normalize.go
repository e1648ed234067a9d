package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-dev/sluice"
)

// Normalized returns the canonical JSON of p: every setting resolved,
// map keys sorted, two-space indentation, no HTML escaping, and a final
// newline. Two files that mean the same thing give the same bytes. It is the
// stored form of a pipeline version; Decode reads it back.
//
// Normalized panics if p holds a value JSON cannot encode (a NaN or
// infinite float default); Parse and Decode never produce one.
func (p *Pipeline) Normalized() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		panic(fmt.Sprintf("pipeline: cannot encode pipeline %q: %v", p.ID, err))
	}
	return b.Bytes()
}

// Hash returns the lowercase hex SHA-256 of Normalized: the address of a
// pipeline version.
func (p *Pipeline) Hash() string {
	sum := sha256.Sum256(p.Normalized())
	return hex.EncodeToString(sum[:])
}

// Decode reads a pipeline from its normalized form (see Normalized). It
// checks that the spec is a whole, consistent pipeline, but it does not
// re-validate what Parse checked; a spec that was never written by
// Normalized may hold values Parse would reject. The error is a
// *sluice.Error with code EINVALID.
func Decode(spec []byte) (*Pipeline, error) {
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.DisallowUnknownFields()
	var p Pipeline
	if err := dec.Decode(&p); err != nil {
		return nil, sluice.Errorf(sluice.EINVALID, "pipeline: decode spec: %v", err)
	}
	if dec.More() {
		return nil, sluice.Errorf(sluice.EINVALID, "pipeline: decode spec: data after the pipeline")
	}
	if err := p.checkDecoded(); err != nil {
		return nil, sluice.Errorf(sluice.EINVALID, "pipeline: decode spec: %v", err)
	}
	return &p, nil
}

// checkDecoded checks the invariants Normalized output always has.
func (p *Pipeline) checkDecoded() error {
	if p.ID == "" {
		return fmt.Errorf("no id")
	}
	if len(p.Tasks) == 0 {
		return fmt.Errorf("no tasks")
	}
	for id, t := range p.Tasks {
		if t == nil || t.ID != id {
			return fmt.Errorf("task %q: id does not match its key", id)
		}
		switch t.Kind {
		case KindShell, KindCommand, KindNoop, KindHTTP, KindSensor, KindPipeline:
		case KindContainer:
			if t.Container == nil || t.Container.Image == "" {
				return fmt.Errorf("task %q: container task without an image", id)
			}
		default:
			return fmt.Errorf("task %q: unknown kind %q", id, t.Kind)
		}
		for _, d := range t.DependsOn {
			if _, ok := p.Tasks[d]; !ok {
				return fmt.Errorf("task %q: depends on unknown task %q", id, d)
			}
		}
	}
	for name, prm := range p.Params {
		if prm == nil {
			return fmt.Errorf("param %q: empty", name)
		}
	}
	return nil
}

// UnmarshalJSON reads a param and gives its Default the Go type of its
// Type: int64 for int, float64 for float, bool for bool and string for
// string and enum. (Plain encoding/json would make every number a float64.)
func (prm *Param) UnmarshalJSON(b []byte) error {
	type plain Param
	var raw struct {
		plain
		Default json.RawMessage `json:"default,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	*prm = Param(raw.plain)
	prm.Default = nil
	if len(raw.Default) == 0 || string(raw.Default) == "null" {
		return nil
	}
	v, err := prm.decodeDefault(raw.Default)
	if err != nil {
		return fmt.Errorf("param default %s: %w", raw.Default, err)
	}
	prm.Default = v
	return nil
}

// decodeDefault reads a JSON default value as the Go type of prm's type.
func (prm *Param) decodeDefault(b json.RawMessage) (any, error) {
	switch prm.Type {
	case ParamList:
		l, err := decodeJSONList(b)
		if err != nil {
			return nil, err
		}
		return prm.bindList(l)
	case ParamObject:
		return prm.bindJSON(string(b), true)
	case ParamJSON:
		return prm.bindJSON(string(b), false)
	case ParamString, ParamEnum:
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case ParamBool:
		var v bool
		err := json.Unmarshal(b, &v)
		return v, err
	case ParamInt:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, err
		}
		return strconv.ParseInt(n.String(), 10, 64)
	case ParamFloat:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("not a finite float")
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown param type %q", prm.Type)
}
