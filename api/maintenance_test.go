package api_test

import (
	"testing"

	"github.com/sluice-dev/sluice/api"
)

// TestCleanup checks the cleanup route's edges; cmd/sluice's TestDBCleanup
// runs a cleanup that deletes.
func TestCleanup(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	operator := s.createToken("operator")

	var c api.Cleanup
	s.asAdmin("POST", "/api/v1/maintenance/cleanup", api.CleanupRequest{DryRun: true}).want(t, 200).decode(t, &c)
	if !c.DryRun || c.DefaultRetentionSeconds != 30*24*3600 || c.Rows == nil || c.Pipelines == nil || c.More {
		t.Fatalf("dry run on a new server = %+v", c)
	}
	s.asAdmin("POST", "/api/v1/maintenance/cleanup", api.CleanupRequest{DryRun: true, Retention: "7d"}).want(t, 200).decode(t, &c)
	if c.DefaultRetentionSeconds != 7*24*3600 {
		t.Fatalf("retention 7d = %+v", c)
	}

	// Only admins; bad values say what is wrong.
	s.do(request{method: "POST", path: "/api/v1/maintenance/cleanup", token: operator, json: api.CleanupRequest{DryRun: true}}).wantError(t, 403, "forbidden")
	e := s.asAdmin("POST", "/api/v1/maintenance/cleanup", api.CleanupRequest{Retention: "soon"}).wantError(t, 422, "invalid")
	if e.Message == "" {
		t.Errorf("no message for a bad retention")
	}
	s.asAdmin("POST", "/api/v1/maintenance/cleanup", api.CleanupRequest{Retention: "-1h"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", "/api/v1/maintenance/cleanup", api.CleanupRequest{Pipeline: "nope"}).wantError(t, 404, "not_found")
	s.asAdmin("POST", "/api/v1/maintenance/cleanup", map[string]any{"dry_run": "yes"}).wantError(t, 400, "bad_request")
}
