package worker

import (
	"os"
	"strings"
)

// privateEnv are the variables of sluice's own configuration that hold
// credentials: the database URL (with its password), the key that seals
// secrets, the first admin's password. A task never sees them, so a
// pipeline's author cannot read them by printing the environment; tasks
// get the secrets they declare, and nothing more.
var privateEnv = []string{"SLUICE_DB", "SLUICE_SECRET_KEY", "SLUICE_ADMIN_PASSWORD"}

// baseEnv is the worker's environment as tasks and callbacks inherit it:
// its own, without privateEnv.
func baseEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		private := false
		for _, p := range privateEnv {
			if name == p {
				private = true
				break
			}
		}
		if !private {
			out = append(out, kv)
		}
	}
	return out
}
