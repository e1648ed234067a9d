package auth_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/auth"
)

// TestPermissionsDocumented checks that docs/api.md lists every action of
// the permissions table with its role, so the docs cannot say admin where
// the server says operator.
func TestPermissionsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range auth.Permissions() {
		row := "| `" + string(p.Action) + "` | `" + string(p.Role) + "` | " + p.What + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/api.md has no row %s", row)
		}
	}
}
