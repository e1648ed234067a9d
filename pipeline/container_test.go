package pipeline

import "testing"

func TestParseMemory(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"512m": 512 << 20, "2g": 2 << 30, "1.5g": 3 << 29, "2GB": 2 << 30, "64k": 64 << 10, "1048576": 1 << 20, "100b": 100,
	} {
		got, err := ParseMemory(in)
		if err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "m", "-1g", "0", "0.1", "1t", ".5g", "1e3m", "Infg"} {
		if got, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", in, got)
		}
	}
}

func TestCheckVolume(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"./data:/data", "/srv/in:/in:ro", "cache:/root/.cache:rw"} {
		if err := CheckVolume(ok); err != nil {
			t.Errorf("CheckVolume(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"data", ":/data", "./data:data", "./d:/d:rx", "a:/b:ro:x"} {
		if err := CheckVolume(bad); err == nil {
			t.Errorf("CheckVolume(%q) accepted", bad)
		}
	}
}

// Two spellings of one container task are one version; a change of image
// is another.
func TestContainerHash(t *testing.T) {
	t.Parallel()
	hash := func(src string) string {
		t.Helper()
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p.Hash()
	}
	a := hash("id: p\ntasks:\n  t:\n    container: {image: busybox:1.36, memory: 512m}\n    run: echo hi\n")
	b := hash("id: p\ntasks:\n  t:\n    run: echo hi\n    requires: [container]\n    container:\n      memory: 536870912\n      pull: missing\n      image: busybox:1.36\n")
	c := hash("id: p\ntasks:\n  t:\n    container: {image: busybox:1.37, memory: 512m}\n    run: echo hi\n")
	if a != b {
		t.Errorf("the same container task written two ways hashes differently")
	}
	if a == c {
		t.Errorf("another image hashes the same")
	}
}

// A Kubernetes task written two ways (quantities, key order, a label
// given as a number) is one version; it requires the label kubernetes,
// not container; the Pod template and tolerations are stored as compact
// JSON with sorted keys.
func TestKubernetesTask(t *testing.T) {
	t.Parallel()
	parse := func(src string) *Pipeline {
		t.Helper()
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := parse(`id: p
tasks:
  t:
    run: echo hi
    container:
      image: busybox:1
      kubernetes:
        resources: {requests: {cpu: 0.5, memory: 1.5Gi}}
        labels: {version: 2}
        tolerations: [{key: k, operator: Exists}]
        pod_template: {spec: {priorityClassName: batch, containers: [{name: task, env: [{value: "1", name: A}]}]}}
`)
	b := parse(`id: p
tasks:
  t:
    container:
      kubernetes:
        pod_template:
          spec:
            containers:
              - {env: [{name: A, value: "1"}], name: task}
            priorityClassName: batch
        tolerations:
          - {operator: Exists, key: k}
        labels: {version: "2"}
        resources:
          requests: {memory: 1536Mi, cpu: 500m}
      image: busybox:1
    run: echo hi
`)
	if a.Hash() != b.Hash() {
		t.Errorf("the same Kubernetes task written two ways hashes differently:\n%s\n%s", a.Normalized(), b.Normalized())
	}
	k := a.Tasks["t"].Container.Kubernetes
	if got := a.Tasks["t"].Requires; len(got) != 1 || got[0] != KubernetesLabel {
		t.Errorf("Requires = %v, want [%s]", got, KubernetesLabel)
	}
	if got, want := string(k.PodTemplate), `{"spec":{"containers":[{"env":[{"name":"A","value":"1"}],"name":"task"}],"priorityClassName":"batch"}}`; got != want {
		t.Errorf("PodTemplate = %s, want %s", got, want)
	}
	if got, want := string(k.Tolerations), `[{"key":"k","operator":"Exists"}]`; got != want {
		t.Errorf("Tolerations = %s, want %s", got, want)
	}
	if got := k.Requests; got["cpu"] != "500m" || got["memory"] != "1536Mi" {
		t.Errorf("Requests = %v, want Kubernetes' canonical quantities", got)
	}
	// A quantity in the template written as a number (+1, 1e3) is kept
	// as text, which JSON can hold whatever YAML wrote.
	q := parse("id: p\ntasks:\n  t:\n    container:\n      image: busybox:1\n      kubernetes: {pod_template: {spec: {overhead: {cpu: +1, memory: 1e3}}}}\n    run: echo hi\n")
	if got, want := string(q.Tasks["t"].Container.Kubernetes.PodTemplate), `{"spec":{"overhead":{"cpu":"+1","memory":"1e3"}}}`; got != want {
		t.Errorf("PodTemplate = %s, want %s", got, want)
	}
	c := parse("id: p\ntasks:\n  t:\n    container: {image: busybox:1, kubernetes: {}}\n    run: echo hi\n")
	d := parse("id: p\ntasks:\n  t:\n    container: {image: busybox:1}\n    run: echo hi\n")
	if c.Hash() == d.Hash() || c.Tasks["t"].Container.Kubernetes == nil || d.Tasks["t"].Requires[0] != ContainerLabel {
		t.Errorf("kubernetes: {} is not a Pod task of its own: %s", c.Normalized())
	}
}
