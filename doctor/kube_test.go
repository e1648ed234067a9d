package doctor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/doctor"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/pipeline"
)

// TestKubeChecks: a pod task's cluster and namespace are checked against
// the real cluster, once per namespace; a namespace that does not exist
// is a problem that says what to do; with no cluster, sluice doctor
// reports why and a worker's own check says nothing.
func TestKubeChecks(t *testing.T) {
	kubeconfig := kubetest.Require(t)
	t.Parallel()
	ns := kubetest.Namespace(t)
	src := `id: k
tasks:
  here: {container: {image: busybox:1, kubernetes: {}}}
  also_here: {container: {image: busybox:1, kubernetes: {namespace: ` + ns + `}}}
  nowhere: {container: {image: busybox:1, kubernetes: {namespace: no-such-namespace}}}
`
	p, err := pipeline.Parse("k.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.Open(kube.Config{Kubeconfig: kubeconfig, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]doctor.Check{}
	for _, ch := range doctor.Pipeline(context.Background(), p, "", doctor.Options{Kube: c}) {
		got[ch.Task+"/"+ch.What] = ch
	}
	for _, task := range []string{"here", "also_here"} {
		if ch := got[task+"/namespace"]; !ch.OK || !strings.HasPrefix(ch.Detail, ns+": may create, watch and delete pods") || !got[task+"/cluster"].OK {
			t.Errorf("%s: %+v, %+v", task, got[task+"/cluster"], ch)
		}
	}
	if ch := got["nowhere/namespace"]; ch.OK || !strings.Contains(ch.Detail, "namespace no-such-namespace does not exist: create it (kubectl create namespace no-such-namespace)") {
		t.Errorf("nowhere: %+v", ch)
	}
	none := doctor.Pipeline(context.Background(), p, "", doctor.Options{NoCluster: "no Kubernetes cluster configured"})
	if len(none) != 3 || none[0].OK || none[0].What != "cluster" || none[0].Detail != "no Kubernetes cluster configured" {
		t.Errorf("without a cluster: %+v", none)
	}
	if quiet := doctor.Pipeline(context.Background(), p, "", doctor.Options{}); len(quiet) != 0 {
		t.Errorf("a worker without a cluster checks its pod tasks: %+v", quiet)
	}
}
