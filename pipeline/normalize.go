package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
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
	p.writeNormalized(&b)
	return b.Bytes()
}

// Hash returns the lowercase hex SHA-256 of Normalized: the address of a
// pipeline version.
func (p *Pipeline) Hash() string {
	h := sha256.New()
	p.writeNormalized(h)
	return hex.EncodeToString(h.Sum(nil))
}

// writeNormalized writes Normalized to w one task at a time: the bytes of
// json.Encoder with SetIndent("", "  ") on the whole pipeline, without
// holding the whole encoding (and the encoder's two working copies of
// it) in memory at once. A pipeline of 40,000 tasks encodes to 15 MB.
func (p *Pipeline) writeNormalized(w io.Writer) {
	must := func(err error) {
		if err != nil {
			panic(fmt.Sprintf("pipeline: cannot encode pipeline %q: %v", p.ID, err))
		}
	}
	// The pipeline without its tasks ends in "tasks": null, the last
	// field; the tasks go in its place, each indented one level deeper.
	head := *p
	head.Tasks = nil
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(enc.Encode(&head))
	const tail = "\"tasks\": null\n}\n"
	if !bytes.HasSuffix(b.Bytes(), []byte(tail)) {
		panic("pipeline: tasks is not the last field of Pipeline's JSON")
	}
	_, err := w.Write(b.Bytes()[:b.Len()-len(tail)])
	must(err)
	if len(p.Tasks) == 0 {
		_, err = io.WriteString(w, "\"tasks\": {}\n}\n")
		must(err)
		return
	}
	ids := make([]string, 0, len(p.Tasks))
	for id := range p.Tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids) // as encoding/json orders map keys
	_, err = io.WriteString(w, "\"tasks\": {\n")
	must(err)
	enc.SetIndent("    ", "  ")
	for i, id := range ids {
		b.Reset()
		key, err := json.Marshal(id)
		must(err)
		b.WriteString("    ")
		b.Write(escapeHTMLBack(key))
		b.WriteString(": ")
		must(enc.Encode(p.Tasks[id]))
		b.Truncate(b.Len() - 1) // Encode's newline
		if i < len(ids)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		_, err = w.Write(b.Bytes())
		must(err)
	}
	_, err = io.WriteString(w, "  }\n}\n")
	must(err)
}

// escapeHTMLBack undoes json.Marshal's escaping of <, > and & in a key,
// as the Encoder with SetEscapeHTML(false) writes them.
func escapeHTMLBack(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
	b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
	return bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
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
		if t.Group != "" && p.Groups[t.Group] == nil {
			return fmt.Errorf("task %q: in unknown group %q", id, t.Group)
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
