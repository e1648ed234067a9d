package pipeline

import (
	"fmt"
	"math"
	"regexp"
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
