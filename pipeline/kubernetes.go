package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/sluice-dev/sluice/kube/k8sapi"
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
	// sluice's own labels (dev.sluice/*) cannot be set here.
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

// sluiceLabel says whether a label key is one of those the worker puts
// on every Pod it makes (dev.sluice/attempt, dev.sluice/lease, …), which
// it finds its Pods by, or looks like one: a pipeline cannot set them.
func sluiceLabel(k string) bool {
	return strings.HasPrefix(k, "dev.sluice/") || strings.HasPrefix(k, "dev.sluice.")
}

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
			k.Namespace = p.kubeName(e, label, k8sapi.IsDNS1123Label,
				"leave namespace: out for the worker's --kube-namespace, or name one, e.g. etl",
				"a namespace is up to 63 lowercase letters, digits and -, e.g. data-etl")
		case "service_account":
			k.ServiceAccount = p.kubeName(e, label, k8sapi.IsDNS1123Subdomain,
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
	if own && sluiceLabel(k) {
		p.errorf(keyAt, "pick a key outside dev.sluice: sluice labels its Pods with dev.sluice/attempt, dev.sluice/run, dev.sluice/task and the like to find them again",
			"%s key %s is sluice's own", label, quoteShort(k))
	} else if msgs := k8sapi.IsQualifiedName(k); len(msgs) > 0 {
		p.errorf(keyAt, labelKeyHint, "%s key %s is not valid: %s", label, quoteShort(k), apiMessage(msgs))
	}
	if msgs := k8sapi.IsLabelValue(v); len(msgs) > 0 {
		p.errorf(valAt, "a value is empty, or up to 63 letters, digits, -, _ and ., starting and ending with a letter or digit",
			"%s value %s is not valid: %s", label, quoteShort(v), apiMessage(msgs))
	}
}

// kubeAnnotations reads annotations: keys are qualified names, values any
// text, all together at most maxAnnotationsSize.
func (p *parser) kubeAnnotations(e entry, label string) map[string]string {
	size := 0
	m := p.stringMap(e, label, func(e entry, v string) {
		if msgs := k8sapi.IsQualifiedName(e.key); len(msgs) > 0 {
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
				if msgs := k8sapi.IsQualifiedName(e.key); len(msgs) > 0 {
					p.errorf(e.keyAt, "name a resource, e.g. cpu, memory, ephemeral-storage or nvidia.com/gpu",
						"%s: resource name %s is not valid: %s", label, quoteShort(e.key), apiMessage(msgs))
				}
			})
			for name, v := range m {
				q, err := k8sapi.ParseQuantity(v)
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
		// Both were read by ParseQuantity above.
		req, _ := k8sapi.ParseQuantity(v)
		max, _ := k8sapi.ParseQuantity(lim)
		if req.Cmp(max) > 0 {
			p.errorf(reqAt[name].valAt, "a container may not ask for more than its limit: raise the limit or lower the request",
				"kubernetes resources requests %s %s is more than its limit %s", name, v, lim)
		}
	}
	return requests, limits
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
		req, _ := k8sapi.ParseQuantity(k.Requests["cpu"]) // read by kubeResources
		lim := k8sapi.NewMilliQuantity(int64(math.Ceil(c.CPUs * 1000)))
		if req.Cmp(lim) > 0 {
			p.errorf(at.cpus, "a container may not ask for more than its limit: raise cpus: or lower the request",
				"kubernetes resources requests cpu %s is more than the container's cpus, its limit", k.Requests["cpu"])
		}
	}
	if at.memory != unset && c.Memory > 0 && k.Requests["memory"] != "" {
		req, _ := k8sapi.ParseQuantity(k.Requests["memory"]) // read by kubeResources
		lim := k8sapi.NewBinaryQuantity(c.Memory)
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
