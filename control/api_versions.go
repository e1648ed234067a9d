package control

import (
	"context"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// MinHashPrefix is the shortest hash prefix that names a version.
const MinHashPrefix = 6

// ResolveVersion finds a version of a pipeline by a reference as people
// write it: "live" for the live version, a numeric version id, or a prefix
// of the version's hash of at least MinHashPrefix hex digits. A reference
// made only of digits is tried as an id first, then as a hash prefix. The
// version is returned with its source and spec.
func (c *Control) ResolveVersion(ctx context.Context, pipelineID, ref string) (*store.Version, error) {
	sp, err := c.st.PipelineGet(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	ref = strings.TrimSpace(ref)
	if ref == "live" || ref == "" {
		if sp.VersionID == 0 {
			return nil, sluice.Errorf(sluice.ENOTFOUND, "pipeline %q has no valid version yet: %s", pipelineID, sp.ParseError)
		}
		return c.st.VersionGet(ctx, sp.VersionID)
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		v, err := c.st.VersionGet(ctx, id)
		if err == nil && v.PipelineID == pipelineID {
			return v, nil
		}
		if err != nil && sluice.ErrorCode(err) != sluice.ENOTFOUND {
			return nil, err
		}
	}
	if len(ref) < MinHashPrefix || !isHex(ref) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "pipeline %q has no version %q: give a version id, \"live\", or at least %d hex digits of its hash", pipelineID, ref, MinHashPrefix)
	}
	list, err := c.st.VersionList(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	var found []*store.Version
	for _, v := range list {
		if strings.HasPrefix(v.Hash, strings.ToLower(ref)) {
			found = append(found, v)
		}
	}
	switch len(found) {
	case 0:
		return nil, sluice.Errorf(sluice.ENOTFOUND, "pipeline %q has no version whose hash starts with %q", pipelineID, ref)
	case 1:
		return c.st.VersionGet(ctx, found[0].ID)
	default:
		return nil, sluice.Errorf(sluice.EBADREQUEST, "%q matches %d versions of %q: give more digits of the hash", ref, len(found), pipelineID)
	}
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
