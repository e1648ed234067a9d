package sluice

import "runtime/debug"

// version is stamped at build time, as the Dockerfile does:
//
//	go build -ldflags "-X github.com/sluice-dev/sluice.version=v0.2.0" ./cmd/sluice
var version string

// Version is the version of the running binary: the stamped one, else the
// module version (go install …@v0.2.0), else "devel" and the VCS revision
// of a build from a checkout. `sluice version`, the worker list and the
// UI's footer show it.
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel " + rev
}
