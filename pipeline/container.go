package pipeline

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// KindContainer runs the task in a container of its own image, through the
// Docker Engine API (Docker or Podman): Run as a script for the image's
// /bin/sh, Command as the container's command, or neither for the image's
// own.
const KindContainer Kind = "container"

// ContainerLabel is the worker label of workers that reach a container
// engine; every container task requires it, so only those workers claim
// container tasks.
const ContainerLabel = "container"

// The pull policies of a container task, as Docker Compose names them.
const (
	PullMissing = "missing" // pull when the engine does not have the image; the default
	PullAlways  = "always"  // pull before every attempt
	PullNever   = "never"   // only an image the engine has
)

// Container is the container of a KindContainer task. The task's Env,
// Secrets and run context reach it as environment variables, and
// $SLUICE_OUTPUT names a file mounted into it.
type Container struct {
	// Image is the image reference; it may hold ${{ }} expressions.
	Image string `json:"image"`
	// Pull is PullMissing (the default), PullAlways or PullNever.
	Pull string `json:"pull"`
	// Entrypoint replaces the image's ENTRYPOINT; empty keeps it. A task
	// with Run has none: its script runs under /bin/sh -c.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Workdir is the working directory inside the container; empty keeps
	// the image's.
	Workdir string `json:"workdir,omitempty"`
	// User runs the command as "name", "uid" or "uid:gid"; empty keeps the
	// image's.
	User string `json:"user,omitempty"`
	// Volumes are mounts as `docker run -v` writes them:
	// "SOURCE:TARGET[:ro]". A SOURCE starting with "." is relative to the
	// pipeline file's directory; one without "/" names a volume.
	Volumes []string `json:"volumes,omitempty"`
	// CPUs limits CPU time in cores (0.5, 2); 0 means no limit.
	CPUs float64 `json:"cpus,omitempty"`
	// Memory limits memory in bytes ("512m" in the file); 0 means no
	// limit.
	Memory int64 `json:"memory,omitempty"`
	// Network is the engine's network mode: empty for its default, "none",
	// "host", or a network's name.
	Network string `json:"network,omitempty"`
	// Kubernetes, when set, runs the container as a Pod on a Kubernetes
	// cluster instead of on the worker's engine (kubernetes.go).
	Kubernetes *Kubernetes `json:"kubernetes,omitempty"`
}

var memoryNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// ParseMemory reads a memory limit as Docker Compose writes it: a number
// of bytes, or a number with a unit k, m or g (binary: 1k = 1024 bytes),
// optionally followed by b, e.g. 512m, 1.5g, 2gb. Zero and negative
// values are errors.
func ParseMemory(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	mult := float64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !memoryNumber.MatchString(t) {
		return 0, fmt.Errorf("memory %q is not a size: write bytes, or a number with k, m or g, e.g. 512m or 2g", s)
	}
	b := v * mult
	if b < 1 || b > math.MaxInt64/2 {
		return 0, fmt.Errorf("memory %q is out of range: a limit is at least 1 byte", s)
	}
	return int64(b), nil
}

// CheckVolume checks one entry of volumes: SOURCE:TARGET or
// SOURCE:TARGET:ro|rw, TARGET an absolute path in the container.
func CheckVolume(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return fmt.Errorf("volume %q is not SOURCE:TARGET[:ro]: e.g. ./data:/data or cache:/root/.cache:ro", v)
	}
	if !strings.HasPrefix(parts[1], "/") {
		return fmt.Errorf("volume %q mounts at %q: the target must be an absolute path in the container", v, parts[1])
	}
	if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
		return fmt.Errorf("volume %q has mode %q: want ro or rw", v, parts[2])
	}
	return nil
}

// CheckPull checks a pull policy; empty is the default, PullMissing.
func CheckPull(p string) error {
	switch p {
	case "", PullMissing, PullAlways, PullNever:
		return nil
	}
	return fmt.Errorf("pull %q is not a pull policy: want missing (the default), always or never", p)
}

// containerKeys are the keys of container:.
var containerKeys = []string{"image", "pull", "entrypoint", "workdir", "user", "volumes", "cpus", "memory", "network", "kubernetes"}

// userPattern is what user: may hold: a name or uid, and a group or gid.
var userPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$`)

// containerSpec reads a task's container:. entrypointAt is set when it
// has an entrypoint, for the task to refuse one with run:.
func (p *parser) containerSpec(e entry) (c *Container, entrypointAt *pos) {
	if isScalar(e.val) && !isNull(e.val) {
		p.wrongType(e.valAt, "container", "a map", e.val, fmt.Sprintf("write the image under image:, e.g. container: {image: %s}", describe(e.val)))
		return nil, nil
	}
	ents, ok := p.entries(e, "container", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in container (first defined at line %d)", key, first.line), "remove one of them"
	})
	if !ok {
		return nil, nil
	}
	c = &Container{Pull: PullMissing}
	hasImage := false
	var engine kubeEngineKeys
	for _, e := range ents {
		switch e.key {
		case "image":
			if v, ok := p.str(e, "container image"); ok {
				hasImage = true
				c.Image = strings.TrimSpace(v)
				if c.Image == "" {
					p.errorf(e.valAt, "name an image, e.g. python:3.12-slim", "container image is empty")
				}
				p.template(e.valAt, "container image", c.Image)
			}
		case "pull":
			if v, ok := p.str(e, "container pull"); ok {
				if err := CheckPull(v); err != nil {
					p.errorf(e.valAt, didYouMean(v, []string{PullMissing, PullAlways, PullNever}, "use missing, always or never"), "container %v", err)
				} else {
					c.Pull = v
				}
			}
		case "entrypoint":
			at := e.keyAt
			entrypointAt = &at
			if isScalar(e.val) && !isNull(e.val) {
				p.errorf(e.valAt, "use a list, e.g. [python, -u]", "container entrypoint: want a list, got %s", describe(e.val))
				continue
			}
			items, ok := p.list(e, "container entrypoint", "use a list, e.g. [python, -u]")
			if !ok {
				continue
			}
			if len(items) == 0 {
				p.errorf(e.valAt, "list the program and its arguments, e.g. [python, -u], or leave entrypoint: out for the image's", "container entrypoint is empty")
			}
			for _, it := range items {
				if s, ok := p.text(it, "container entrypoint"); ok {
					p.noTemplate(it, "container entrypoint", s)
					c.Entrypoint = append(c.Entrypoint, s)
				}
			}
		case "workdir":
			if v, ok := p.str(e, "container workdir"); ok {
				if !strings.HasPrefix(v, "/") {
					p.errorf(e.valAt, "write an absolute path inside the container, e.g. /work", "container workdir %s is not an absolute path", quoteShort(v))
				} else {
					c.Workdir = v
				}
			}
		case "user":
			engine.user = e.valAt
			if v, ok := p.text(e, "container user"); ok {
				if !userPattern.MatchString(v) {
					p.errorf(e.valAt, `write a user name or uid, and a group after ":" if needed, e.g. "1000:1000"`, "container user %s is not a user", quoteShort(v))
				} else {
					c.User = v
				}
			}
		case "volumes":
			engine.volumes = e.keyAt
			items, _ := p.list(e, "container volumes", "use a list, e.g. [./data:/data]")
			for _, it := range items {
				if s, ok := p.str(it, "container volumes"); ok {
					if err := CheckVolume(s); err != nil {
						p.errorf(it.valAt, "", "container %v", err)
					} else {
						c.Volumes = append(c.Volumes, s)
					}
				}
			}
		case "cpus":
			engine.cpus = e.keyAt
			switch kindOf(e.val) {
			case kindNone:
			case kindInt, kindFloat:
				v := floatValue(e.val.Value)
				if kindOf(e.val) == kindInt {
					n, _ := intValue(e.val.Value)
					v = float64(n)
				}
				if !(v > 0) || math.IsInf(v, 0) || v > 1<<20 {
					p.errorf(e.valAt, "write the cores it may use, e.g. 0.5 or 2, or leave cpus: out for no limit", "container cpus: must be more than 0, got %s", shorten(e.val.Value))
				} else {
					c.CPUs = v
				}
			default:
				p.wrongType(e.valAt, "container cpus", "a number of cores such as 1.5", e.val, "")
			}
		case "memory":
			engine.memory = e.keyAt
			if v, ok := p.text(e, "container memory"); ok {
				if n, err := ParseMemory(v); err != nil {
					p.errorf(e.valAt, "", "container %v", err)
				} else {
					c.Memory = n
				}
			}
		case "network":
			engine.network = e.keyAt
			if v, ok := p.str(e, "container network"); ok {
				if strings.TrimSpace(v) == "" {
					p.errorf(e.valAt, "leave network: out for the engine's default, or write none, host or a network's name", "container network is empty")
				} else {
					c.Network = v
				}
			}
		case "kubernetes":
			c.Kubernetes = p.kubernetes(e)
		default:
			p.errorf(e.keyAt, didYouMean(e.key, containerKeys, "the keys of container are "+strings.Join(containerKeys, ", ")),
				"unknown key %s in container", quoteShort(e.key))
		}
	}
	if !hasImage {
		p.errorf(e.valAt, "name the image to run, e.g. container: {image: python:3.12-slim}", "container has no image")
	}
	if c.Kubernetes != nil {
		p.checkKubernetesContainer(c, engine)
	}
	return c, entrypointAt
}

// checkContainerTask checks what a task with container: may say besides:
// run: or command: (or neither), and none of the settings that mean the
// worker's machine.
func (p *parser) checkContainerTask(t *rawTask, where string) {
	var runs []string
	for _, k := range t.kinds {
		switch k.key {
		case "run", "command":
			runs = append(runs, k.key)
			if len(runs) == 2 {
				p.errorf(k.keyAt, "keep only one: run: for a script for the image's /bin/sh, command: for the container's command",
					"%s sets both %s and %s", where, runs[0], runs[1])
			}
		default:
			p.errorf(k.keyAt, fmt.Sprintf("a container task runs run: or command: in its image; move %s: to a task of its own", k.key),
				"%s sets both container and %s", where, k.key)
		}
	}
	if t.entrypointAt != nil && t.run != "" {
		p.errorf(*t.entrypointAt, "run: is a script for the image's /bin/sh, which replaces the entrypoint: use command: with entrypoint:, or drop entrypoint:",
			"%s sets both run and container entrypoint", where)
	}
	if set := t.settings(); set.interpAt != nil {
		p.errorf(*set.interpAt, "in a container, write the interpreter into the script (run: python3 -c '…') or use command:",
			"%s sets interpreter: with container:", where)
	}
	if t.settings().workdir != nil {
		p.errorf(*t.containerAt, "set the working directory inside the container with container: {workdir: /path}",
			"%s sets workdir: with container:, which is a folder on the worker's machine", where)
	}
}

// containerTask makes t, built from rt, a container task: its run: or
// command: runs in the container, settings of the worker's machine that
// defaults: gave it are dropped, and it requires ContainerLabel, or
// KubernetesLabel when it runs as a Pod.
func containerTask(t *Task, rt *rawTask) {
	t.Kind, t.Container = KindContainer, rt.container
	t.Run, t.Command = rt.run, rt.command
	t.Workdir, t.Interpreter = "", nil
	label := ContainerLabel
	if rt.container.Kubernetes != nil {
		label = KubernetesLabel
	}
	if !slices.Contains(t.Requires, label) {
		t.Requires = append(append([]string(nil), t.Requires...), label)
		sort.Strings(t.Requires)
	}
}
