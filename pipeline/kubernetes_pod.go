package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// This file reads the parts of a kubernetes: block written as the Pod
// API writes them, tolerations and pod_template: each key is looked up
// among the fields of the API's types (k8sapi.PodType: a table generated
// from k8s.io/api/core/v1, which sluice does not link: its init costs
// every process memory), so a misspelled or unknown field, or a value of
// the wrong kind, is an error at its own line and column; then what only
// decoding into the API's Go types would find (a number out of an int32's
// range) is checked, and the value is kept as canonical JSON for the
// worker to build the Pod from.

// kubeTolerations reads tolerations: a list checked, field by field and
// strictly, against the Pod API's Toleration, stored as canonical JSON.
func (p *parser) kubeTolerations(e entry) json.RawMessage {
	items, _ := p.list(e, "kubernetes tolerations", "")
	if len(items) == 0 {
		return nil
	}
	typ := k8sapi.TypeNamed("Toleration")
	list := make([]any, 0, len(items))
	good := true
	for i, it := range items {
		v, ok := p.podValue(it, typ, "kubernetes", fmt.Sprintf("tolerations[%d]", i), "tolerations[]")
		var t toleration
		if ok = ok && p.checkJSON(it, "kubernetes tolerations", v, typ); ok {
			// checkJSON found the fields of the kinds toleration has.
			_ = json.Unmarshal(canonicalJSON(v), &t)
			p.checkToleration(it, t)
		}
		good = good && ok
		list = append(list, v)
	}
	if !good {
		return nil
	}
	return canonicalJSON(list)
}

// toleration is the part of the Pod API's Toleration sluice checks.
type toleration struct {
	Key               string `json:"key"`
	Operator          string `json:"operator"`
	Value             string `json:"value"`
	Effect            string `json:"effect"`
	TolerationSeconds *int64 `json:"tolerationSeconds"`
}

// The operators and effects of a toleration.
const (
	tolerationOpEqual  = "Equal"
	tolerationOpExists = "Exists"
	effectNoExecute    = "NoExecute"
)

// checkToleration checks what the API server checks of a toleration.
func (p *parser) checkToleration(it entry, t toleration) {
	label := "kubernetes toleration"
	switch t.Operator {
	case "", tolerationOpEqual, tolerationOpExists, "Lt", "Gt":
	default:
		p.errorf(it.valAt, didYouMean(string(t.Operator), []string{"Equal", "Exists"}, "use Equal (the default) or Exists"),
			"%s operator %s is not an operator", label, quoteShort(string(t.Operator)))
	}
	switch t.Effect {
	case "", "NoSchedule", "PreferNoSchedule", effectNoExecute:
	default:
		p.errorf(it.valAt, didYouMean(string(t.Effect), []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, "use NoSchedule, PreferNoSchedule or NoExecute, or leave effect: out for all three"),
			"%s effect %s is not an effect", label, quoteShort(string(t.Effect)))
	}
	if t.Key == "" && t.Operator != tolerationOpExists {
		p.errorf(it.valAt, "name the taint's key, or write operator: Exists to tolerate every taint",
			"%s has no key", label)
	} else if msgs := k8sapi.IsQualifiedName(t.Key); t.Key != "" && len(msgs) > 0 {
		p.errorf(it.valAt, labelKeyHint, "%s key %s is not valid: %s", label, quoteShort(t.Key), apiMessage(msgs))
	}
	if t.Operator == tolerationOpExists && t.Value != "" {
		p.errorf(it.valAt, "operator: Exists matches any value: drop value:, or use operator: Equal",
			"%s sets value %s with operator Exists", label, quoteShort(t.Value))
	}
	if t.TolerationSeconds != nil && t.Effect != effectNoExecute {
		p.errorf(it.valAt, "tolerationSeconds says how long a running Pod stays on a node tainted NoExecute: set effect: NoExecute, or drop it",
			"%s sets tolerationSeconds without effect NoExecute", label)
	}
}

// kubePodTemplate reads pod_template: a Pod fragment checked, field by
// field and strictly, against the Pod API, stored as canonical JSON.
func (p *parser) kubePodTemplate(e entry) json.RawMessage {
	typ := k8sapi.PodType()
	v, ok := p.podValue(e, typ, "kubernetes pod_template", "", "")
	if !ok || !p.checkJSON(e, "kubernetes pod_template", v, typ) {
		return nil
	}
	return canonicalJSON(v)
}

// checkJSON checks v as decoding it into the API's Go types would, as
// the API server does: podValue has checked the fields and the kinds of
// their values already, so what is left to find here is a number out of
// its field's range or a time that is not one, reported at e as that
// decoding reports it.
func (p *parser) checkJSON(e entry, label string, v any, t *k8sapi.Type) bool {
	err := t.Check(v)
	if err == nil {
		return true
	}
	p.errorf(e.valAt, "", "%s: %s", label, err)
	return false
}

// canonicalJSON encodes a value made by podValue with its keys sorted and
// without HTML escaping: the form stored in the version. podValue makes
// only values JSON can hold (no NaN, no infinity), so encoding does not
// fail; if it did, the empty result fails strictJSON, never silently.
func canonicalJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// podValue reads the YAML value e as the JSON value of Go type t of the
// Pod API: every key must be a field of t, written as the API writes it
// (case matters, as it does to the API server), and every value of the
// kind the field holds. Problems are reported where they are written;
// path is where e is in the value (".spec.containers[0]"), shape the
// same without list indices, for the checks some fields get.
func (p *parser) podValue(e entry, t *k8sapi.Type, label, path, shape string) (any, bool) {
	if e.val == nil {
		return nil, false
	}
	if isNull(e.val) {
		return nil, true
	}
	where := label
	if path != "" {
		where = label + " " + strings.TrimPrefix(path, ".")
	}
	switch t.Kind {
	case k8sapi.KindQuantity:
		s, ok := p.text(e, where)
		if !ok {
			return nil, false
		}
		if _, err := k8sapi.ParseQuantity(s); err != nil {
			p.errorf(e.valAt, `write a quantity as Kubernetes does, e.g. "500m" or "1Gi"`, "%s: %s is not a quantity", where, quoteShort(s))
			return nil, false
		}
		return s, true // as text, which the API reads as it reads a number
	case k8sapi.KindIntOrString:
		if k := kindOf(e.val); k == kindInt || k == kindString {
			return p.scalar(e, where)
		}
		p.wrongType(e.valAt, where, "a number or a name", e.val, "")
		return nil, false
	case k8sapi.KindAny, k8sapi.KindTime:
		return p.anyValue(e, where)
	case k8sapi.KindStruct:
		ents, ok := p.entries(e, where, func(key string, first pos) (string, string) {
			return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
		})
		if !ok {
			return nil, false
		}
		fields := t.Fields
		m := make(map[string]any, len(ents))
		at := make(map[string]entry, len(ents))
		good := true
		for _, f := range ents {
			ft, known := fields[f.key]
			if !known {
				names := t.FieldNames()
				in := strings.TrimPrefix(path, ".")
				if in == "" {
					in = "the Pod"
				}
				p.errorf(f.keyAt, didYouMean(f.key, names, "the fields there are "+strings.Join(names, ", ")),
					"%s: unknown field %s in %s", label, quoteShort(f.key), in)
				good = false
				continue
			}
			v, ok := p.podValue(f, ft, label, path+"."+f.key, shape+"."+f.key)
			good = good && ok
			m[f.key], at[f.key] = v, f.at()
		}
		p.checkPodFields(label, shape, e, m, at)
		return m, good
	case k8sapi.KindMap:
		ents, ok := p.entries(e, where, func(key string, first pos) (string, string) {
			return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
		})
		if !ok {
			return nil, false
		}
		m := make(map[string]any, len(ents))
		good := true
		for _, f := range ents {
			p.noTemplate(entry{valAt: f.keyAt}, where, f.key)
			v, ok := p.podValue(f, t.Elem, label, path+"."+f.key, shape+".*")
			good = good && ok
			m[f.key] = v
			s, _ := v.(string)
			if strings.Contains(f.key+s, "${{") {
				continue
			}
			switch shape {
			case ".metadata.labels":
				p.checkLabel(f.keyAt, f.valAt, where, f.key, s, true)
			case ".metadata.annotations":
				if msgs := k8sapi.IsQualifiedName(f.key); len(msgs) > 0 {
					p.errorf(f.keyAt, labelKeyHint, "%s key %s is not valid: %s", where, quoteShort(f.key), apiMessage(msgs))
				}
			}
		}
		return m, good
	case k8sapi.KindBytes:
		return p.scalar(e, where) // base64, as JSON writes bytes
	case k8sapi.KindList:
		if kindOf(e.val) != kindList {
			p.wrongType(e.valAt, where, "a list", e.val, "")
			return nil, false
		}
		items, _ := p.list(e, where, "")
		l := make([]any, 0, len(items))
		good := true
		for i, it := range items {
			v, ok := p.podValue(it, t.Elem, label, fmt.Sprintf("%s[%d]", path, i), shape+"[]")
			good = good && ok
			l = append(l, v)
		}
		return l, good
	case k8sapi.KindString:
		if kindOf(e.val) != kindString {
			p.wrongType(e.valAt, where, "a string", e.val, quoteHint(e.val))
			return nil, false
		}
	case k8sapi.KindBool:
		if kindOf(e.val) != kindBool {
			p.wrongType(e.valAt, where, "true or false", e.val, "")
			return nil, false
		}
	case k8sapi.KindInt:
		if kindOf(e.val) != kindInt {
			p.wrongType(e.valAt, where, "an integer", e.val, "")
			return nil, false
		}
	case k8sapi.KindFloat:
		if k := kindOf(e.val); k != kindInt && k != kindFloat {
			p.wrongType(e.valAt, where, "a number", e.val, "")
			return nil, false
		}
	}
	return p.scalar(e, where)
}

// checkPodFields checks, in a Pod template, what the Pod sluice makes
// decides: its name and namespace, its state, and the task's container,
// which is sluice's to fill; and that every other container can run.
func (p *parser) checkPodFields(label, shape string, e entry, m map[string]any, at map[string]entry) {
	switch shape {
	case "":
		if f, ok := at["status"]; ok {
			p.errorf(f.keyAt, "remove status: it is the cluster's to write", "%s sets status", label)
		}
	case ".metadata":
		for _, k := range []string{"name", "generateName"} {
			if f, ok := at[k]; ok {
				p.errorf(f.keyAt, "remove it: sluice names each attempt's Pod", "%s sets metadata.%s", label, k)
			}
		}
		if f, ok := at["namespace"]; ok {
			p.errorf(f.keyAt, "set the namespace with kubernetes: {namespace: …}", "%s sets metadata.namespace", label)
		}
	case ".spec.containers[]", ".spec.initContainers[]":
		name, _ := m["name"].(string)
		switch {
		case name == "":
			p.errorf(e.valAt, `name it: "task" for the task's own container, any other name for a sidecar`,
				"%s: a container in %s has no name", label, strings.TrimPrefix(shape[:len(shape)-2], "."))
		case name == "task" && shape == ".spec.containers[]":
			for _, k := range []string{"image", "command", "args"} {
				if f, ok := at[k]; ok {
					p.errorf(f.keyAt, "the task's container gets them from container: (image, entrypoint) and the task's run: or command:; set them there",
						"%s: the container named task sets %s", label, k)
				}
			}
		default:
			if _, ok := at["image"]; !ok {
				p.errorf(e.valAt, "name the image the sidecar runs, e.g. image: busybox:1",
					"%s: container %s has no image", label, quoteShort(name))
			}
		}
	}
}

// anyValue reads a YAML value with no Go type to check it against (a
// field the API reads itself) as the JSON value it stands for.
func (p *parser) anyValue(e entry, where string) (any, bool) {
	switch kindOf(e.val) {
	case kindMap:
		ents, ok := p.entries(e, where, func(key string, first pos) (string, string) {
			return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
		})
		if !ok {
			return nil, false
		}
		m := make(map[string]any, len(ents))
		good := true
		for _, f := range ents {
			v, ok := p.anyValue(f, where)
			good = good && ok
			m[f.key] = v
		}
		return m, good
	case kindList:
		items, _ := p.list(e, where, "")
		l := make([]any, 0, len(items))
		good := true
		for _, it := range items {
			v, ok := p.anyValue(it, where)
			good = good && ok
			l = append(l, v)
		}
		return l, good
	}
	return p.scalar(e, where)
}

// scalar reads a YAML scalar as the JSON value it stands for: text as a
// string (in which ${{ }} is refused: a Pod is not templated), numbers as
// JSON numbers, booleans and null as themselves.
func (p *parser) scalar(e entry, where string) (any, bool) {
	switch kindOf(e.val) {
	case kindNone:
		return nil, false
	case kindNull:
		return nil, true
	case kindBool:
		return boolValue(e.val.Value), true
	case kindInt:
		n, ok := intValue(e.val.Value)
		if !ok {
			p.errorf(e.valAt, "", "%s: %s is too large", where, shorten(e.val.Value))
			return nil, false
		}
		return n, true
	case kindFloat:
		f := floatValue(e.val.Value)
		if math.IsNaN(f) || math.IsInf(f, 0) || tooLargeInt(e.val) {
			p.errorf(e.valAt, "", "%s: %s is not a number JSON can hold", where, shorten(e.val.Value))
			return nil, false
		}
		return f, true
	case kindString:
		p.noTemplate(e, where, e.val.Value)
		return e.val.Value, true
	}
	p.wrongType(e.valAt, where, "a value", e.val, "")
	return nil, false
}
