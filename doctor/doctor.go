// Package doctor checks, on the machine it runs on, that the tasks of
// pipelines have what they need: the programs their commands start are on
// the PATH, their interpreters exist and run, their working directories
// exist, and the worker has the labels they require. It catches the
// Airflow classic of a task whose dependencies live only in the
// orchestrator's own environment, before a run fails on it.
package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/kube"
	"github.com/sluice-dev/sluice/pipeline"
)

// Check is one thing checked about a task.
type Check struct {
	Pipeline string
	Task     string
	// What is "command", "interpreter", "workdir" or "labels".
	What string
	OK   bool
	// Detail says what was found, or what is wrong and what to do.
	Detail string
}

// Options say how to check.
type Options struct {
	// Labels are the worker's labels; nil skips the label check (a task
	// may be meant for other workers).
	Labels []string
	// CheckLabels checks required labels against Labels.
	CheckLabels bool
	// Timeout bounds running an interpreter; default 10s.
	Timeout time.Duration
	// Engine is the container engine of container tasks; nil skips their
	// checks (engine reachable, image present).
	Engine *docker.Engine
	// Kube is the Kubernetes cluster of Kubernetes pod tasks; nil skips
	// their checks, or, with NoCluster set, reports it as their problem.
	Kube *kube.Client
	// NoCluster says why there is no cluster (none configured), for
	// sluice doctor to report on each pod task; a worker without one
	// leaves it empty, as it never claims those tasks.
	NoCluster string
	// Pull pulls the images of container tasks that the engine lacks, to
	// check they can be pulled; without it a missing image is only noted
	// (unless its task says pull: never).
	Pull bool
}

// Pipeline checks every task of a pipeline loaded from file (empty for an
// uploaded one). To check several pipelines, use one Checker.
func Pipeline(ctx context.Context, p *pipeline.Pipeline, file string, o Options) []Check {
	return NewChecker(o).Pipeline(ctx, p, file)
}

// Checker checks pipelines, each distinct thing once: tasks and pipelines
// share folders, programs and above all interpreters, and running an
// interpreter is a process start (a Python behind a version manager's
// shim took 300 ms here). Without it, a worker starting with a pipeline
// of 300 tasks that all name the same interpreter ran it 300 times, for
// 97 s, before it claimed anything. A Checker is for one goroutine; a new
// one sees the machine anew.
type Checker struct {
	o       Options
	engine  *engineCheck
	cluster *kubeCheck
	dirs    map[string]bool     // folder → it exists and is a folder
	progs   map[string]resolved // program (joined with its folder) → where
	interps map[string]error    // interpreter, folder → its run's error
}

type resolved struct {
	path string
	err  error
}

// NewChecker returns a Checker that checks with o.
func NewChecker(o Options) *Checker {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return &Checker{o: o, dirs: map[string]bool{}, progs: map[string]resolved{}, interps: map[string]error{}}
}

// Pipeline checks every task of a pipeline loaded from file (empty for an
// uploaded one).
func (c *Checker) Pipeline(ctx context.Context, p *pipeline.Pipeline, file string) []Check {
	o := c.o
	var out []Check
	for _, id := range p.TopoOrder() {
		t := p.Tasks[id]
		add := func(what string, ok bool, detail string) {
			out = append(out, Check{Pipeline: p.ID, Task: id, What: what, OK: ok, Detail: detail})
		}
		if t.Kind == pipeline.KindContainer && t.Container.Kubernetes != nil {
			if o.Kube == nil {
				if o.NoCluster != "" {
					add("cluster", false, o.NoCluster)
				}
			} else {
				if c.cluster == nil {
					c.cluster = &kubeCheck{c: o.Kube}
				}
				c.cluster.check(ctx, t, add)
			}
			if o.CheckLabels {
				have := o.Labels
				if c.cluster != nil && c.cluster.pingErr == nil {
					have = append(append([]string(nil), have...), pipeline.KubernetesLabel)
				}
				checkLabels(t, have, add)
			}
			continue
		}
		if t.Kind == pipeline.KindContainer {
			if o.Engine != nil {
				if c.engine == nil {
					c.engine = &engineCheck{e: o.Engine}
				}
				c.engine.check(ctx, t, o.Pull, add)
			}
			if o.CheckLabels {
				have := o.Labels
				if c.engine != nil && c.engine.pingErr == nil {
					// A worker that reaches the engine has the label.
					have = append(append([]string(nil), have...), pipeline.ContainerLabel)
				}
				checkLabels(t, have, add)
			}
			continue // its workdir and command are inside the image
		}
		dir, dirOK := workdir(t, file)
		if dir != "" {
			if !c.isDir(dir) {
				add("workdir", false, fmt.Sprintf("%s does not exist on this machine", dir))
				dirOK = false
			} else {
				add("workdir", true, dir)
			}
		}
		if t.Kind == pipeline.KindCommand {
			path, err := c.resolve(t.Command[0], dir)
			if err != nil {
				add("command", false, err.Error())
			} else {
				add("command", true, path)
			}
		}
		if len(t.Interpreter) > 0 {
			path, err := c.resolve(t.Interpreter[0], dir)
			if err != nil {
				add("interpreter", false, err.Error())
			} else if err := c.runs(ctx, t.Interpreter, dir, dirOK); err != nil {
				add("interpreter", false, fmt.Sprintf("%s does not run: %v", path, err))
			} else {
				add("interpreter", true, path)
			}
		}
		if o.CheckLabels {
			checkLabels(t, o.Labels, add)
		}
	}
	return out
}

func (c *Checker) isDir(dir string) bool {
	ok, seen := c.dirs[dir]
	if !seen {
		fi, err := os.Stat(dir)
		ok = err == nil && fi.IsDir()
		c.dirs[dir] = ok
	}
	return ok
}

// resolve is resolve, once per program.
func (c *Checker) resolve(prog, dir string) (string, error) {
	key := joined(prog, dir)
	r, seen := c.progs[key]
	if !seen {
		r.path, r.err = resolve(prog, dir)
		c.progs[key] = r
	}
	return r.path, r.err
}

// runs is runs, once per interpreter and folder.
func (c *Checker) runs(ctx context.Context, argv []string, dir string, dirOK bool) error {
	if !dirOK {
		dir = ""
	}
	// NUL ends the folder and parts the arguments: no path or argument
	// holds one.
	key := dir + "\x00" + strings.Join(argv, "\x00")
	err, seen := c.interps[key]
	if !seen {
		err = runs(ctx, argv, dir, dirOK, c.o.Timeout)
		if ctx.Err() != nil {
			return err // cut short: not the interpreter's answer
		}
		c.interps[key] = err
	}
	return err
}

func checkLabels(t *pipeline.Task, have []string, add func(what string, ok bool, detail string)) {
	if len(t.Requires) == 0 {
		return
	}
	missing := minus(t.Requires, have)
	if len(missing) == 0 {
		add("labels", true, strings.Join(t.Requires, ", "))
		return
	}
	// The labels container and kubernetes are the engine's and the
	// cluster's to give, not --labels'.
	var flags []string
	for _, l := range t.Requires {
		if l != pipeline.ContainerLabel && l != pipeline.KubernetesLabel {
			flags = append(flags, l)
		}
	}
	hint := "start it with --labels " + strings.Join(flags, ",")
	switch {
	case len(flags) == 0 && contains(missing, pipeline.KubernetesLabel):
		hint = "a worker gets it by reaching a Kubernetes cluster (--kubeconfig)"
	case len(flags) == 0:
		hint = "a worker gets it by reaching a container engine at --container-host"
	case contains(missing, pipeline.ContainerLabel):
		hint += ", and a container engine at --container-host"
	case contains(missing, pipeline.KubernetesLabel):
		hint += ", and a Kubernetes cluster (--kubeconfig)"
	}
	add("labels", false, fmt.Sprintf("needs label(s) %s, which this worker lacks: %s", strings.Join(missing, ", "), hint))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// workdir resolves a task's working directory as a worker does; "" when
// it gets a fresh one per attempt (an uploaded pipeline).
func workdir(t *pipeline.Task, file string) (string, bool) {
	switch {
	case filepath.IsAbs(t.Workdir):
		return t.Workdir, true
	case file != "":
		return filepath.Join(filepath.Dir(file), t.Workdir), true
	}
	return "", false
}

// resolve finds a program: on the PATH, or, when it names a path,
// relative to dir.
func resolve(prog, dir string) (string, error) {
	prog = joined(prog, dir)
	path, err := exec.LookPath(prog)
	if err != nil {
		if strings.ContainsRune(prog, '/') {
			return "", fmt.Errorf("%s does not exist or is not executable", prog)
		}
		return "", fmt.Errorf("%s is not on the PATH (%s)", prog, os.Getenv("PATH"))
	}
	return path, nil
}

// joined is prog as resolve looks for it: a relative path taken from dir.
func joined(prog, dir string) string {
	if strings.ContainsRune(prog, '/') && !filepath.IsAbs(prog) && dir != "" {
		return filepath.Join(dir, prog)
	}
	return prog
}

// runs runs the interpreter on an empty script.
func runs(ctx context.Context, argv []string, dir string, dirOK bool, timeout time.Duration) error {
	f, err := os.CreateTemp("", "sluice-doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	defer os.Remove(f.Name())
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(append([]string(nil), argv[1:]...), f.Name())...)
	if dirOK {
		cmd.Dir = dir
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if s := strings.TrimSpace(string(out)); s != "" {
			return fmt.Errorf("%v: %s", err, firstLine(s))
		}
		return err
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func minus(need, have []string) []string {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	var out []string
	for _, n := range need {
		if !set[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Problems returns the failed checks as lines for logs, one per
// pipeline and problem: "p/load workdir: …", or, when several tasks share
// it, "p/load (and 2 more tasks) workdir: …". A worker stores its
// problems and rewrites them with every heartbeat, and schedulers read
// them: one line per task made a 40,000-task pipeline with a missing
// folder 40,000 lines (3 MB) in each worker's record.
func Problems(checks []Check) []string {
	type key struct{ pipeline, what, detail string }
	var (
		order []key
		tasks = map[key][]string{}
	)
	for _, c := range checks {
		if c.OK {
			continue
		}
		k := key{c.Pipeline, c.What, c.Detail}
		if _, seen := tasks[k]; !seen {
			order = append(order, k)
		}
		tasks[k] = append(tasks[k], c.Task)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		who := k.pipeline + "/" + tasks[k][0]
		if more := len(tasks[k]) - 1; more > 0 {
			who += fmt.Sprintf(" (and %d more %s)", more, plural(more, "task", "tasks"))
		}
		out = append(out, fmt.Sprintf("%s %s: %s", who, k.what, k.detail))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
