package worker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// version is a decoded pipeline version. Versions are immutable, so a
// cached copy is always right.
type version struct {
	pipeline *pipeline.Pipeline
	hash     string
	file     string
}

type versionCache struct {
	st store.Store
	mu sync.Mutex
	m  map[int64]*version
}

func newVersionCache(st store.Store) *versionCache {
	return &versionCache{st: st, m: map[int64]*version{}}
}

func (vc *versionCache) get(ctx context.Context, id int64) (*version, error) {
	vc.mu.Lock()
	v := vc.m[id]
	vc.mu.Unlock()
	if v != nil {
		return v, nil
	}
	sv, err := vc.st.VersionGet(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Decode(sv.Spec)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	v = &version{pipeline: p, hash: sv.Hash, file: sv.File}
	vc.mu.Lock()
	if len(vc.m) >= 512 {
		for k := range vc.m { // drop an arbitrary entry; they are cheap to reload
			delete(vc.m, k)
			break
		}
	}
	vc.m[id] = v
	vc.mu.Unlock()
	return v, nil
}

// decodeParams reads a run's params as text for the environment.
func decodeParams(raw []byte) (map[string]string, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("{}")) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("run params are not a JSON object: %w", err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		out[k] = string(v)
	}
	return out, nil
}

func randUint16() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint16(b[:])
}
