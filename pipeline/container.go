package pipeline

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
