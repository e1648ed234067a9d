package pipeline

import "encoding/json"

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
