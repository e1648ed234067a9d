package doctor

import (
	"context"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/pipeline"
)

// kubeCheck checks Kubernetes pod tasks against one cluster: that it
// answers (once), and, once per namespace, that the namespace exists and
// the worker's identity may run Pods there.
type kubeCheck struct {
	c          *kube.Client
	pinged     bool
	pingErr    error
	namespaces map[string][]string // namespace → problems
}

func (k *kubeCheck) check(ctx context.Context, t *pipeline.Task, add func(what string, ok bool, detail string)) {
	if !k.pinged {
		k.pinged = true
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		k.pingErr = k.c.Ping(pctx)
		cancel()
		k.namespaces = map[string][]string{}
	}
	if k.pingErr != nil {
		add("cluster", false, k.pingErr.Error()+": set --kubeconfig or $KUBECONFIG")
		return
	}
	add("cluster", true, k.c.Server()+" (from "+k.c.Source()+")")
	ns := t.Container.Kubernetes.Namespace
	if ns == "" {
		ns = k.c.Namespace()
	}
	problems, seen := k.namespaces[ns]
	if !seen {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		problems = k.c.CheckNamespace(cctx, ns)
		cancel()
		k.namespaces[ns] = problems
	}
	if len(problems) > 0 {
		add("namespace", false, strings.Join(problems, "; "))
		return
	}
	add("namespace", true, ns+": may create, watch and delete pods, read their logs and manage the attempts' secrets")
}
