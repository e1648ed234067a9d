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
	m  map[int64]*versionEntry
}

// versionEntry loads once, however many attempts ask at the same time: a
// fan-out of thousands of tasks must not decode a large version thousands
// of times.
type versionEntry struct {
	once sync.Once
	v    *version
	err  error
}

func newVersionCache(st store.Store) *versionCache {
	return &versionCache{st: st, m: map[int64]*versionEntry{}}
}

func (vc *versionCache) get(ctx context.Context, id int64) (*version, error) {
	vc.mu.Lock()
	e := vc.m[id]
	if e == nil {
		if len(vc.m) >= 512 {
			for k := range vc.m { // drop an arbitrary entry; they are cheap to reload
				delete(vc.m, k)
				break
			}
		}
		e = &versionEntry{}
		vc.m[id] = e
	}
	vc.mu.Unlock()
	e.once.Do(func() { e.v, e.err = vc.load(ctx, id) })
	if e.err != nil {
		vc.mu.Lock()
		if vc.m[id] == e {
			delete(vc.m, id) // do not cache a failure
		}
		vc.mu.Unlock()
	}
	return e.v, e.err
}

func (vc *versionCache) load(ctx context.Context, id int64) (*version, error) {
	sv, err := vc.st.VersionGet(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Decode(sv.Spec)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &version{pipeline: p, hash: sv.Hash, file: sv.File}, nil
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
