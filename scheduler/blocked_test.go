package scheduler

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/store"
)

func TestBlockedReason(t *testing.T) {
	t.Parallel()
	workers := []*store.WorkerInfo{{ID: "w1", Labels: []string{"linux"}}, {ID: "w2", Labels: []string{"gpu", "linux"}}}
	pools := map[string]*store.Pool{"db": {Name: "db", Slots: 2}, "off": {Name: "off", Slots: 0}}
	tests := []struct {
		name    string
		w       store.WaitingInstance
		workers []*store.WorkerInfo
		want    string
	}{
		{"runnable", store.WaitingInstance{}, workers, ""},
		{"no workers", store.WaitingInstance{}, nil, "no worker is alive"},
		{"labels one worker has", store.WaitingInstance{Requires: []string{"gpu", "linux"}}, workers, ""},
		{"labels nobody has", store.WaitingInstance{Requires: []string{"tpu"}}, workers, "no live worker has the label(s) tpu (live workers: w1 [linux]; w2 [gpu,linux])"},
		{"container task, no engine", store.WaitingInstance{Requires: []string{"container"}}, workers, "no live worker has the label(s) container (live workers: w1 [linux]; w2 [gpu,linux]); a container task runs only on a worker that reaches a container engine (Docker or Podman) at its --container-host or $DOCKER_HOST"},
		{"pool with room", store.WaitingInstance{Pool: "db", PoolSlots: 2}, workers, ""},
		{"pool too small", store.WaitingInstance{Pool: "db", PoolSlots: 3}, workers, "pool db has 2 slot(s) and the task needs 3"},
		{"pool with no slots", store.WaitingInstance{Pool: "off", PoolSlots: 1}, workers, "pool off has 0 slot(s)"},
		{"pool missing", store.WaitingInstance{Pool: "ghost", PoolSlots: 1}, workers, "pool ghost does not exist"},
	}
	for _, tt := range tests {
		got := blockedReason(&tt.w, tt.workers, pools)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
