package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// KubernetesLabel is the worker label of workers that reach a Kubernetes
// cluster; every container task with Kubernetes set requires it (and not
// ContainerLabel), so only those workers claim it.
const KubernetesLabel = "kubernetes"

// Kubernetes says that a container task runs as a Pod on a Kubernetes
// cluster instead of on the worker's container engine, and how. The
// worker holds the lease and streams the log; the cluster does the
// compute. The container's image, pull, entrypoint, workdir, user, cpus
// and memory keep their meaning (pull: missing is IfNotPresent, always
// Always, never Never; entrypoint is the container's command and the
// task's command: its args; user is a numeric "uid[:gid]"; cpus and
// memory are limits when Limits does not set them); volumes and network
// are the engine's and are refused here: use PodTemplate.
type Kubernetes struct {
	// Namespace is where the Pod runs; empty means the worker's
	// --kube-namespace (by default the kubeconfig's, else "default").
	Namespace string `json:"namespace,omitempty"`
	// ServiceAccount is the Pod's service account; empty means the
	// namespace's default.
	ServiceAccount string `json:"service_account,omitempty"`
	// Requests and Limits are the container's resources, by resource name
	// (cpu, memory, ephemeral-storage, nvidia.com/gpu, …) as Kubernetes
	// quantities ("500m", "1Gi").
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
	// NodeSelector, Labels and Annotations go into the Pod as they are;
	// sluice's own labels (dev.sluice.*) cannot be set here.
	NodeSelector map[string]string `json:"node_selector,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Tolerations is a JSON list of Kubernetes tolerations, checked
	// against the Pod API's fields at load time.
	Tolerations json.RawMessage `json:"tolerations,omitempty"`
	// PodTemplate is a JSON Pod fragment ({metadata: …, spec: …}) for
	// everything else (volumes, affinity, sidecars, securityContext); the
	// Pod sluice builds is merged into it as a strategic merge patch, so
	// the task's container (named "task") keeps the template's
	// volumeMounts and the like. Checked against the Pod API's fields at
	// load time.
	PodTemplate json.RawMessage `json:"pod_template,omitempty"`
}

// UnmarshalJSON reads k from the normalized form strictly, and keeps
// Tolerations and PodTemplate compact, as Parse makes them: the
// normalized form writes them indented.
func (k *Kubernetes) UnmarshalJSON(b []byte) error {
	type plain Kubernetes
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v plain
	if err := dec.Decode(&v); err != nil {
		return err
	}
	for _, raw := range []*json.RawMessage{&v.Tolerations, &v.PodTemplate} {
		if len(*raw) == 0 {
			continue
		}
		var c bytes.Buffer
		if err := json.Compact(&c, *raw); err != nil {
			return err
		}
		*raw = c.Bytes()
	}
	*k = Kubernetes(v)
	return nil
}

// kubernetesKeys are the keys of container: kubernetes:.
var kubernetesKeys = []string{"namespace", "service_account", "resources", "node_selector", "tolerations", "labels", "annotations", "pod_template"}

// resourcesKeys are the keys of kubernetes: resources:.
var resourcesKeys = []string{"requests", "limits"}

// sluiceLabelPrefix starts the labels the worker puts on every Pod it
// makes (dev.sluice.attempt, dev.sluice.lease, …), which it finds its
// Pods by: a pipeline cannot set them.
const sluiceLabelPrefix = "dev.sluice."

// maxAnnotationsSize is the most the keys and values of a Pod's
// annotations may add up to, as the API server counts them.
const maxAnnotationsSize = 256 << 10

// kubeEngineKeys are where a container: sets what only an engine has
// (volumes, network) and what a Pod reads differently (user, cpus,
// memory), for the checks of a container with kubernetes:; the zero pos
// where it does not.
type kubeEngineKeys struct {
	volumes, network, user, cpus, memory pos
}

// kubernetes reads container: kubernetes:. It is the only code of the
// parser that touches the Kubernetes packages, so a file without a
// kubernetes: block costs what it did before.
func (p *parser) kubernetes(e entry) *Kubernetes {
	const hint = "write kubernetes: {} to run the container as a Pod with the defaults, or set its keys, e.g. kubernetes: {namespace: etl}"
	if kindOf(e.val) != kindMap {
		if e.val != nil {
			p.wrongType(e.valAt, "container kubernetes", "a map", e.val, hint)
		}
		return nil
	}
	ents, ok := p.entries(e, "container kubernetes", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in container kubernetes (first defined at line %d)", key, first.line), "remove one of them"
	})
	if !ok {
		return nil
	}
	k := &Kubernetes{}
	for _, e := range ents {
		label := "kubernetes " + e.key
		switch e.key {
		case "namespace":
			k.Namespace = p.kubeName(e, label, content.IsDNS1123Label,
				"leave namespace: out for the worker's --kube-namespace, or name one, e.g. etl",
				"a namespace is up to 63 lowercase letters, digits and -, e.g. data-etl")
		case "service_account":
			k.ServiceAccount = p.kubeName(e, label, content.IsDNS1123Subdomain,
				"leave service_account: out for the namespace's default, or name one, e.g. etl-runner",
				"a service account name is lowercase letters, digits, - and ., e.g. etl-runner")
		case "resources":
			k.Requests, k.Limits = p.kubeResources(e)
		case "node_selector":
			k.NodeSelector = p.kubeLabels(e, label, false)
		case "labels":
			k.Labels = p.kubeLabels(e, label, true)
		case "annotations":
			k.Annotations = p.kubeAnnotations(e, label)
		case "tolerations":
			if kindOf(e.val) != kindList {
				p.wrongType(e.valAt, label, "a list", e.val, "e.g. tolerations: [{key: dedicated, operator: Equal, value: etl, effect: NoSchedule}]")
				continue
			}
			k.Tolerations = p.kubeTolerations(e)
		case "pod_template":
			if kindOf(e.val) != kindMap {
				p.wrongType(e.valAt, label, "a map", e.val, "write a Pod as Kubernetes does, e.g. pod_template: {spec: {priorityClassName: batch}}")
				continue
			}
			k.PodTemplate = p.kubePodTemplate(e)
		default:
			p.errorf(e.keyAt, didYouMean(e.key, kubernetesKeys, "the keys of kubernetes are "+strings.Join(kubernetesKeys, ", ")),
				"unknown key %s in container kubernetes", quoteShort(e.key))
		}
	}
	return k
}

// kubeName reads a name the Kubernetes API checks with valid.
func (p *parser) kubeName(e entry, label string, valid func(string) []string, emptyHint, hint string) string {
	v, ok := p.str(e, label)
	if !ok {
		return ""
	}
	p.noTemplate(e, label, v)
	switch {
	case v == "":
		p.errorf(e.valAt, emptyHint, "%s is empty", label)
	case strings.Contains(v, "${{"):
	default:
		if msgs := valid(v); len(msgs) > 0 {
			p.errorf(e.valAt, hint, "%s %s is not valid: %s", label, quoteShort(v), apiMessage(msgs))
			return ""
		}
		return v
	}
	return ""
}

// stringMap reads a map of text values (numbers and booleans as written),
// refusing ${{ }} in keys and values; check, when not nil, checks each
// key and value at their positions.
func (p *parser) stringMap(e entry, label string, check func(e entry, v string)) map[string]string {
	ents, ok := p.entries(e, label, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, label, first.line), "remove one of them"
	})
	if !ok || len(ents) == 0 {
		return nil
	}
	m := make(map[string]string, len(ents))
	for _, e := range ents {
		v, ok := p.text(e, fmt.Sprintf("%s %s", label, quoteShort(e.key)))
		if !ok {
			continue
		}
		p.noTemplate(entry{valAt: e.keyAt}, label, e.key)
		p.noTemplate(e, label, v)
		if check != nil && !strings.Contains(e.key+v, "${{") {
			check(e, v)
		}
		m[e.key] = v
	}
	return m
}

const labelKeyHint = "a key is a name of up to 63 letters, digits, -, _ and ., after an optional DNS prefix and /, e.g. team or example.com/team"

// kubeLabels reads labels (own) or a node selector: keys are qualified
// names, values label values. A Pod's own labels cannot start with
// dev.sluice.
func (p *parser) kubeLabels(e entry, label string, own bool) map[string]string {
	return p.stringMap(e, label, func(e entry, v string) {
		p.checkLabel(e.keyAt, e.valAt, label, e.key, v, own)
	})
}

// checkLabel checks one label, or one entry of a node selector.
func (p *parser) checkLabel(keyAt, valAt pos, label, k, v string, own bool) {
	if own && strings.HasPrefix(k, sluiceLabelPrefix) {
		p.errorf(keyAt, "pick a key outside dev.sluice.: sluice labels its Pods with dev.sluice.attempt, .run, .task and the like to find them again",
			"%s key %s is sluice's own", label, quoteShort(k))
	} else if msgs := content.IsQualifiedName(k); len(msgs) > 0 {
		p.errorf(keyAt, labelKeyHint, "%s key %s is not valid: %s", label, quoteShort(k), apiMessage(msgs))
	}
	if msgs := content.IsLabelValue(v); len(msgs) > 0 {
		p.errorf(valAt, "a value is empty, or up to 63 letters, digits, -, _ and ., starting and ending with a letter or digit",
			"%s value %s is not valid: %s", label, quoteShort(v), apiMessage(msgs))
	}
}

// kubeAnnotations reads annotations: keys are qualified names, values any
// text, all together at most maxAnnotationsSize.
func (p *parser) kubeAnnotations(e entry, label string) map[string]string {
	size := 0
	m := p.stringMap(e, label, func(e entry, v string) {
		if msgs := content.IsQualifiedName(e.key); len(msgs) > 0 {
			p.errorf(e.keyAt, labelKeyHint, "%s key %s is not valid: %s", label, quoteShort(e.key), apiMessage(msgs))
		}
		size += len(e.key) + len(v)
	})
	if size > maxAnnotationsSize {
		p.errorf(e.valAt, "keep annotations short; put data in a ConfigMap and mount it through pod_template",
			"%s add up to %s; Kubernetes takes at most %s", label, sizeText(size), sizeText(maxAnnotationsSize))
	}
	return m
}

// kubeResources reads resources: {requests: …, limits: …}: quantities by
// resource name, stored in Kubernetes' canonical form ("0.5" is "500m"),
// so two spellings of one quantity are one version.
func (p *parser) kubeResources(e entry) (requests, limits map[string]string) {
	ents, ok := p.entries(e, "kubernetes resources", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in kubernetes resources (first defined at line %d)", key, first.line), "remove one of them"
	})
	if !ok {
		return nil, nil
	}
	var reqAt map[string]entry
	for _, e := range ents {
		label := "kubernetes resources " + e.key
		switch e.key {
		case "requests", "limits":
			at := map[string]entry{}
			m := p.stringMap(e, label, func(e entry, v string) {
				at[e.key] = e.at()
				if msgs := content.IsQualifiedName(e.key); len(msgs) > 0 {
					p.errorf(e.keyAt, "name a resource, e.g. cpu, memory, ephemeral-storage or nvidia.com/gpu",
						"%s: resource name %s is not valid: %s", label, quoteShort(e.key), apiMessage(msgs))
				}
			})
			for name, v := range m {
				q, err := resource.ParseQuantity(v)
				switch {
				case err != nil:
					p.errorf(at[name].valAt, `write a quantity as Kubernetes does: cpu in cores or millicores ("0.5", "500m"), memory in bytes with Ki, Mi, Gi ("512Mi")`,
						"%s %s: %s is not a quantity", label, name, quoteShort(v))
					delete(m, name)
				case q.Sign() < 0:
					p.errorf(at[name].valAt, "", "%s %s: %s is negative", label, name, quoteShort(v))
					delete(m, name)
				default:
					m[name] = q.String()
				}
			}
			if len(m) == 0 {
				m = nil
			}
			if e.key == "requests" {
				requests, reqAt = m, at
			} else {
				limits = m
			}
		default:
			p.errorf(e.keyAt, didYouMean(e.key, resourcesKeys, "the keys of resources are requests and limits"),
				"unknown key %s in kubernetes resources", quoteShort(e.key))
		}
	}
	for name, v := range requests {
		lim, ok := limits[name]
		if !ok {
			continue
		}
		req, max := resource.MustParse(v), resource.MustParse(lim)
		if req.Cmp(max) > 0 {
			p.errorf(reqAt[name].valAt, "a container may not ask for more than its limit: raise the limit or lower the request",
				"kubernetes resources requests %s %s is more than its limit %s", name, v, lim)
		}
	}
	return requests, limits
}

// kubeTolerations reads tolerations: a list checked, field by field and
// strictly, against the Pod API's Toleration, stored as canonical JSON.
func (p *parser) kubeTolerations(e entry) json.RawMessage {
	items, _ := p.list(e, "kubernetes tolerations", "")
	if len(items) == 0 {
		return nil
	}
	typ := reflect.TypeFor[corev1.Toleration]()
	list := make([]any, 0, len(items))
	good := true
	for i, it := range items {
		v, ok := p.podValue(it, typ, "kubernetes", fmt.Sprintf("tolerations[%d]", i), "tolerations[]")
		var t corev1.Toleration
		if ok = ok && p.strictJSON(it, "kubernetes tolerations", canonicalJSON(v), &t); ok {
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

// checkToleration checks what the API server checks of a toleration.
func (p *parser) checkToleration(it entry, t corev1.Toleration) {
	label := "kubernetes toleration"
	switch t.Operator {
	case "", corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt:
	default:
		p.errorf(it.valAt, didYouMean(string(t.Operator), []string{"Equal", "Exists"}, "use Equal (the default) or Exists"),
			"%s operator %s is not an operator", label, quoteShort(string(t.Operator)))
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		p.errorf(it.valAt, didYouMean(string(t.Effect), []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, "use NoSchedule, PreferNoSchedule or NoExecute, or leave effect: out for all three"),
			"%s effect %s is not an effect", label, quoteShort(string(t.Effect)))
	}
	if t.Key == "" && t.Operator != corev1.TolerationOpExists {
		p.errorf(it.valAt, "name the taint's key, or write operator: Exists to tolerate every taint",
			"%s has no key", label)
	} else if msgs := content.IsQualifiedName(t.Key); t.Key != "" && len(msgs) > 0 {
		p.errorf(it.valAt, labelKeyHint, "%s key %s is not valid: %s", label, quoteShort(t.Key), apiMessage(msgs))
	}
	if t.Operator == corev1.TolerationOpExists && t.Value != "" {
		p.errorf(it.valAt, "operator: Exists matches any value: drop value:, or use operator: Equal",
			"%s sets value %s with operator Exists", label, quoteShort(t.Value))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		p.errorf(it.valAt, "tolerationSeconds says how long a running Pod stays on a node tainted NoExecute: set effect: NoExecute, or drop it",
			"%s sets tolerationSeconds without effect NoExecute", label)
	}
}

// kubePodTemplate reads pod_template: a Pod fragment checked, field by
// field and strictly, against the Pod API, stored as canonical JSON.
func (p *parser) kubePodTemplate(e entry) json.RawMessage {
	v, ok := p.podValue(e, reflect.TypeFor[corev1.Pod](), "kubernetes pod_template", "", "")
	if !ok {
		return nil
	}
	raw := canonicalJSON(v)
	var pod corev1.Pod
	if raw == nil || !p.strictJSON(e, "kubernetes pod_template", raw, &pod) {
		return nil
	}
	return raw
}

// strictJSON decodes raw into v as the API server would, refusing unknown
// fields. podValue has checked the fields and the kinds of their values
// already, so what is left to find here is a value a type reads itself
// (a time, a port that is a number or a name), reported at e.
func (p *parser) strictJSON(e entry, label string, raw []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return true
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p.errorf(e.valAt, "", "%s: %s: want %s, got %s", label, te.Field, te.Type, te.Value)
	} else {
		p.errorf(e.valAt, "", "%s: %s", label, strings.TrimPrefix(err.Error(), "json: "))
	}
	return false
}

// canonicalJSON encodes a value made by podValue with its keys sorted and
// without HTML escaping: the form stored in the version. It is nil when
// the value cannot be encoded (podValue refuses what would not be).
func canonicalJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
)

// podFieldsCache holds, by struct type of the Pod API, its fields by JSON
// name (see podFields).
var podFieldsCache sync.Map

// podFields returns the fields of the struct type t by JSON name, those of
// inlined structs included.
func podFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := podFieldsCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "" && (f.Anonymous || strings.Contains(opts, "inline")):
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range podFields(ft) {
				m[k] = v
			}
		case name == "":
			m[f.Name] = f.Type
		default:
			m[name] = f.Type
		}
	}
	podFieldsCache.Store(t, m)
	return m
}

// podValue reads the YAML value e as the JSON value of Go type t of the
// Pod API: every key must be a field of t, written as the API writes it
// (case matters, as it does to the API server), and every value of the
// kind the field holds. Problems are reported where they are written;
// path is where e is in the value (".spec.containers[0]"), shape the
// same without list indices, for the checks some fields get.
func (p *parser) podValue(e entry, t reflect.Type, label, path, shape string) (any, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
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
	switch {
	case t == quantityType:
		s, ok := p.text(e, where)
		if !ok {
			return nil, false
		}
		if _, err := resource.ParseQuantity(s); err != nil {
			p.errorf(e.valAt, `write a quantity as Kubernetes does, e.g. "500m" or "1Gi"`, "%s: %s is not a quantity", where, quoteShort(s))
			return nil, false
		}
		if kindOf(e.val) == kindString {
			return s, true
		}
		return json.Number(s), true
	case t == intOrStringType:
		if k := kindOf(e.val); k == kindInt || k == kindString {
			return p.scalar(e, where)
		}
		p.wrongType(e.valAt, where, "a number or a name", e.val, "")
		return nil, false
	case reflect.PointerTo(t).Implements(jsonUnmarshaler) || t.Kind() == reflect.Interface:
		return p.anyValue(e, where)
	}
	switch t.Kind() {
	case reflect.Struct:
		ents, ok := p.entries(e, where, func(key string, first pos) (string, string) {
			return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
		})
		if !ok {
			return nil, false
		}
		fields := podFields(t)
		m := make(map[string]any, len(ents))
		at := make(map[string]entry, len(ents))
		good := true
		for _, f := range ents {
			ft, known := fields[f.key]
			if !known {
				names := make([]string, 0, len(fields))
				for n := range fields {
					names = append(names, n)
				}
				sort.Strings(names)
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
	case reflect.Map:
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
			v, ok := p.podValue(f, t.Elem(), label, path+"."+f.key, shape+".*")
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
				if msgs := content.IsQualifiedName(f.key); len(msgs) > 0 {
					p.errorf(f.keyAt, labelKeyHint, "%s key %s is not valid: %s", where, quoteShort(f.key), apiMessage(msgs))
				}
			}
		}
		return m, good
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return p.scalar(e, where) // base64, as JSON writes bytes
		}
		if kindOf(e.val) != kindList {
			p.wrongType(e.valAt, where, "a list", e.val, "")
			return nil, false
		}
		items, _ := p.list(e, where, "")
		l := make([]any, 0, len(items))
		good := true
		for i, it := range items {
			v, ok := p.podValue(it, t.Elem(), label, fmt.Sprintf("%s[%d]", path, i), shape+"[]")
			good = good && ok
			l = append(l, v)
		}
		return l, good
	case reflect.String:
		if kindOf(e.val) != kindString {
			p.wrongType(e.valAt, where, "a string", e.val, quoteHint(e.val))
			return nil, false
		}
	case reflect.Bool:
		if kindOf(e.val) != kindBool {
			p.wrongType(e.valAt, where, "true or false", e.val, "")
			return nil, false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if kindOf(e.val) != kindInt {
			p.wrongType(e.valAt, where, "an integer", e.val, "")
			return nil, false
		}
	case reflect.Float32, reflect.Float64:
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

// checkKubernetesContainer checks what container: may say besides
// kubernetes:: nothing that only an engine has, a numeric user, and not
// both a limit and the key that means it.
func (p *parser) checkKubernetesContainer(c *Container, at kubeEngineKeys) {
	k := c.Kubernetes
	var unset pos
	if at.volumes != unset {
		p.errorf(at.volumes, "declare the volume in kubernetes: {pod_template: {spec: {volumes: […]}}} and mount it in a container named task: {name: task, volumeMounts: […]} in pod_template's spec.containers",
			"container volumes are the engine's: a Pod mounts volumes through pod_template")
	}
	if at.network != unset {
		p.errorf(at.network, "a Pod joins the cluster's network: remove network: (pod_template: {spec: {hostNetwork: true}} for the node's own)",
			"container network is the engine's: it does not apply to a Pod")
	}
	if at.user != unset && c.User != "" && !numericUser.MatchString(c.User) {
		p.errorf(at.user, `runAsUser needs numbers: write a uid, or "uid:gid", e.g. "1000:1000"`,
			"container user %s is a name, which a Pod cannot run as", quoteShort(c.User))
	}
	if at.cpus != unset && k.Limits["cpu"] != "" {
		p.errorf(at.cpus, "keep one: cpus: is the Pod's cpu limit when resources: limits: does not set it",
			"container cpus and kubernetes resources limits cpu both set the cpu limit")
	}
	if at.memory != unset && k.Limits["memory"] != "" {
		p.errorf(at.memory, "keep one: memory: is the Pod's memory limit when resources: limits: does not set it",
			"container memory and kubernetes resources limits memory both set the memory limit")
	}
	// cpus and memory are limits too, which a request may not exceed.
	if at.cpus != unset && c.CPUs > 0 && k.Requests["cpu"] != "" {
		req, lim := resource.MustParse(k.Requests["cpu"]), *resource.NewMilliQuantity(int64(math.Ceil(c.CPUs*1000)), resource.DecimalSI)
		if req.Cmp(lim) > 0 {
			p.errorf(at.cpus, "a container may not ask for more than its limit: raise cpus: or lower the request",
				"kubernetes resources requests cpu %s is more than the container's cpus, its limit", k.Requests["cpu"])
		}
	}
	if at.memory != unset && c.Memory > 0 && k.Requests["memory"] != "" {
		req, lim := resource.MustParse(k.Requests["memory"]), *resource.NewQuantity(c.Memory, resource.BinarySI)
		if req.Cmp(lim) > 0 {
			p.errorf(at.memory, "a container may not ask for more than its limit: raise memory: or lower the request",
				"kubernetes resources requests memory %s is more than the container's memory, its limit", k.Requests["memory"])
		}
	}
}

// numericUser is a user a Pod can run as: a uid, and a gid.
var numericUser = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)

// apiMessage joins the messages of a Kubernetes name check, without the
// examples and the regular expression they end with: the hint gives
// examples.
func apiMessage(msgs []string) string {
	for i, m := range msgs {
		if j := strings.Index(m, " (e.g. "); j > 0 {
			msgs[i] = m[:j]
		}
	}
	return strings.Join(msgs, "; ")
}
