package worker

import (
	"context"
	"os"

	"github.com/sluice-dev/sluice"

	"github.com/sluice-dev/sluice/doctor"
	"github.com/sluice-dev/sluice/store"
)

// register checks this machine against every live pipeline (the
// `sluice doctor` checks, without labels: a task may be meant for other
// workers), logs what is wrong, and announces the worker with its labels
// so schedulers can tell tasks nobody can run.
func (w *Worker) register(ctx context.Context) {
	problems := w.selfCheck(ctx)
	// The heartbeat announces the worker meanwhile, reading them.
	w.mu.Lock()
	w.problems = problems
	w.mu.Unlock()
	for _, p := range problems {
		w.log.Warn("environment check: a task cannot run on this worker", "problem", p)
	}
	w.announce(ctx)
}

func (w *Worker) selfCheck(ctx context.Context) []string {
	ps, err := w.st.PipelineList(ctx)
	if err != nil {
		return nil
	}
	var problems []string
	check := doctor.NewChecker(doctor.Options{Engine: w.engine, Kube: w.kube})
	for _, sp := range ps {
		if sp.VersionID == 0 || sp.Missing {
			continue
		}
		v, err := w.versions.Get(ctx, sp.VersionID)
		if err != nil {
			continue
		}
		problems = append(problems, doctor.Problems(check.Pipeline(ctx, v.Pipeline, v.File))...)
	}
	return problems
}

// announce records the worker as alive now.
func (w *Worker) announce(ctx context.Context) {
	host, _ := os.Hostname()
	w.mu.Lock()
	draining, problems := w.draining, w.problems
	w.mu.Unlock()
	err := w.st.WorkerUpsert(ctx, &store.WorkerInfo{
		ID: w.cfg.ID, Hostname: host, PID: os.Getpid(), Labels: w.labels, Concurrency: w.cfg.Concurrency,
		Version: sluice.Version(), Draining: draining, Problems: problems,
	})
	if ctx.Err() == nil {
		w.health.Observe(err)
	}
}
