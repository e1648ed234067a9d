package worker

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/kube/k8sapi"
	"github.com/sluice-dev/sluice/pipeline"
)

// connectKube opens the Kubernetes cluster of Config.Kubeconfig (or the
// usual places: in-cluster, $KUBECONFIG, ~/.kube/config). A worker that
// reaches one advertises pipeline.KubernetesLabel, so Kubernetes pod
// tasks come to it; one with no cluster configured says nothing.
func (w *Worker) connectKube(ctx context.Context) {
	if w.cfg.Kubeconfig == "none" {
		return
	}
	c, err := kube.Open(kube.Config{Kubeconfig: w.cfg.Kubeconfig, Namespace: w.cfg.KubeNamespace, Worker: w.cfg.ID, Logger: w.log,
		WrapTransport: w.cfg.KubeTransport})
	if errors.Is(err, kube.ErrNotConfigured) {
		return
	}
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.Ping(pctx)
		cancel()
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		w.log.Info("no Kubernetes cluster: Kubernetes pod tasks will not run on this worker", "err", err)
		return
	}
	w.kube = c
	if !hasLabel(w.labels, pipeline.KubernetesLabel) {
		w.labels = append(w.labels, pipeline.KubernetesLabel)
	}
	w.log.Info("Kubernetes cluster reached; this worker runs Kubernetes pod tasks",
		"server", c.Server(), "config", c.Source(), "namespace", c.Namespace())
}

// runPod runs one attempt of a container task as a Kubernetes Pod.
func (w *Worker) runPod(a *attempt, x *exprContext, v *version, task *pipeline.Task, secrets []openedSecret) *executor.Result {
	c, spec := a.claim, task.Container
	k := spec.Kubernetes
	if w.kube == nil {
		return failed("this worker reaches no Kubernetes cluster: start it with --kubeconfig (or KUBECONFIG, or in a Pod with a service account)")
	}
	image, err := x.render(spec.Image)
	if err != nil {
		return failed("container image: " + err.Error())
	}
	env, err := w.taskEnv(v, task, c, kube.OutputPath, x, secrets)
	if err != nil {
		return failed(err.Error())
	}
	req := &kube.Request{
		Name:           kube.PodName(c.PipelineID, c.TaskID, c.AttemptID),
		Namespace:      k.Namespace,
		Image:          image,
		PullPolicy:     pullPolicy(spec.Pull),
		Command:        spec.Entrypoint,
		Args:           task.Command,
		Workdir:        spec.Workdir,
		ServiceAccount: k.ServiceAccount,
		Requests:       k.Requests,
		Limits:         podLimits(spec, k),
		NodeSelector:   k.NodeSelector,
		Annotations:    map[string]string{kube.AnnotationPipeline: c.PipelineID, kube.AnnotationTask: c.TaskID},
		Labels: map[string]string{
			kube.LabelAttempt:  strconv.FormatInt(c.AttemptID, 10),
			kube.LabelLease:    strconv.FormatInt(c.Token, 10),
			kube.LabelRun:      strconv.FormatInt(c.RunID, 10),
			kube.LabelTask:     kube.LabelValue(c.TaskID),
			kube.LabelPipeline: kube.LabelValue(c.PipelineID),
		},
		Tolerations: k.Tolerations,
		PodTemplate: k.PodTemplate,
		Timeout:     time.Duration(task.Timeout),
		KillGrace:   w.cfg.KillGrace,
		MaxOutput:   w.cfg.MaxOutput,
		Log:         a.logs,
	}
	for key, val := range k.Labels {
		req.Labels[key] = val
	}
	for key, val := range k.Annotations {
		req.Annotations[key] = val
	}
	if task.Run != "" {
		req.Command, req.Args = []string{"/bin/sh", "-c"}, []string{task.Run}
	}
	req.RunAsUser, req.RunAsGroup = runAs(spec.User)
	// A task with secrets keeps its whole env (which may hold a secret
	// through an expression) out of the Pod spec: it goes into the
	// attempt's Secret. The run context stays in the spec, for kubectl.
	if len(secrets) > 0 {
		for _, kv := range env {
			if strings.HasPrefix(kv, "SLUICE_") {
				req.Env = append(req.Env, kv)
			} else {
				req.SecretEnv = append(req.SecretEnv, kv)
			}
		}
	} else {
		req.Env = env
	}
	// The attempt shows its image and Pod (API, UI) while it runs; a
	// Pod the cluster cannot place says why as the task's blocked
	// reason. Failing to record either is no reason to stop the task: a
	// lost lease stops it by the usual path.
	req.Started = func(pod string) {
		if err := w.st.AttemptSetContainer(a.ctx, c.Lease, image, "pod/"+pod); err != nil && a.ctx.Err() == nil {
			w.log.Warn("could not record the attempt's pod", "task", c.TaskID, "run", c.RunID, "pod", pod, "err", err)
		}
	}
	req.Blocked = func(reason string) {
		if err := w.st.AttemptSetBlocked(context.WithoutCancel(a.ctx), c.Lease, reason); err != nil && a.ctx.Err() == nil {
			w.log.Warn("could not record why the attempt's pod waits", "task", c.TaskID, "run", c.RunID, "err", err)
		}
	}
	return w.kube.Run(a.ctx, req)
}

// pullPolicy maps a container task's pull: to Kubernetes' names.
func pullPolicy(p string) string {
	switch p {
	case pipeline.PullAlways:
		return k8sapi.PullAlways
	case pipeline.PullNever:
		return k8sapi.PullNever
	}
	return k8sapi.PullIfNotPresent
}

// podLimits are the Pod's limits: the kubernetes block's, with the
// container's cpus and memory where it sets none.
func podLimits(spec *pipeline.Container, k *pipeline.Kubernetes) map[string]string {
	out := map[string]string{}
	for name, q := range k.Limits {
		out[name] = q
	}
	if _, ok := out["cpu"]; !ok && spec.CPUs > 0 {
		out["cpu"] = strconv.FormatInt(int64(spec.CPUs*1000+0.5), 10) + "m"
	}
	if _, ok := out["memory"]; !ok && spec.Memory > 0 {
		out["memory"] = strconv.FormatInt(spec.Memory, 10)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// runAs reads a numeric "uid[:gid]"; the parser refuses names for Pods.
func runAs(user string) (uid, gid *int64) {
	if user == "" {
		return nil, nil
	}
	u, g, hasG := strings.Cut(user, ":")
	if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		uid = &n
	}
	if hasG {
		if n, err := strconv.ParseInt(g, 10, 64); err == nil {
			gid = &n
		}
	}
	return uid, gid
}

// sweepPods deletes, every interval until ctx ends, the Pods and Secrets
// sluice made for attempts that are over: those of a worker that was
// killed before it could delete them. It looks at once, then every
// interval, so a dead worker's Pods go soon after its leases expire.
func (w *Worker) sweepPods(ctx context.Context, every time.Duration) {
	if w.kube == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.sweepKube(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) sweepKube(ctx context.Context) {
	list, err := w.kube.Leftovers(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("cannot list pods to delete those left behind", "err", err)
		}
		return
	}
	items := make([]leftover, 0, len(list))
	for i, o := range list {
		items = append(items, leftover{i: i, attempt: o.Labels[kube.LabelAttempt], run: o.Labels[kube.LabelRun], lease: o.Labels[kube.LabelLease]})
	}
	for _, it := range w.over(ctx, items) {
		o := list[it.i]
		w.log.Info("deleting a "+o.Kind+" whose attempt is over (its worker stopped without deleting it)",
			"name", o.Namespace+"/"+o.Name, "attempt", it.attempt, "run", it.run, "worker_was", o.Labels[kube.LabelWorker])
		if err := w.kube.Delete(ctx, o, w.cfg.KillGrace); err != nil && ctx.Err() == nil {
			w.log.Warn("cannot delete a "+o.Kind+" left behind", "name", o.Namespace+"/"+o.Name, "err", err)
		}
	}
}
