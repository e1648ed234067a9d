package storetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/sluice-dev/sluice/store"
)

// LegacyTokensVersion is the last schema version before tokens had owners.
const LegacyTokensVersion = 8

// LegacyTokens checks the migration that gives tokens their owners. db is
// a database migrated up to LegacyTokensVersion only; open applies the
// rest and returns the store. Before owners, a token named its maker in
// created_by: a user, 'sluice server', or the token the maker used.
func LegacyTokens(t *testing.T, db *sql.DB, open func() store.Store) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO users (name, password_hash, role, disabled, created_at, updated_at) VALUES
			('alice', 'h', 'operator', false, 100, 100), ('carol', 'h', 'admin', false, 500, 500)`,
		`INSERT INTO tokens (name, hash, role, created_by, created_at) VALUES
			('local CLI (/x/cli-token)', 'h-cli', 'admin', 'sluice server', 200),
			('made with the CLI', 'h-ci', 'operator', 'local CLI (/x/cli-token)', 210),
			('alice-ci', 'h-alice', 'admin', 'alice', 220),
			('made with alice-ci', 'h-alice2', 'viewer', 'alice-ci', 230),
			('the first carol''s', 'h-carol', 'admin', 'carol', 300),
			('deleted dave''s', 'h-dave', 'admin', 'dave', 310),
			('made with --auth none', 'h-anon', 'admin', 'anonymous', 320)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("legacy rows: %v", err)
		}
	}
	s := open()
	alice, err := s.UserGet(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		hash   string
		user   int64
		system bool
	}{
		{"h-cli", 0, true}, {"h-ci", 0, true},
		{"h-alice", alice.ID, false}, {"h-alice2", alice.ID, false},
		// A later user of the same name does not inherit the first one's
		// tokens; a token whose maker is gone has no owner.
		{"h-carol", 0, false}, {"h-dave", 0, false}, {"h-anon", 0, false},
	} {
		tk, err := s.TokenGet(context.Background(), want.hash)
		if err != nil {
			t.Fatalf("%s: %v", want.hash, err)
		}
		owner := int64(0)
		if tk.User != nil {
			owner = tk.User.ID
		}
		if tk.UserID != want.user || tk.System != want.system || owner != want.user {
			t.Errorf("%s (%s): user %d (read %d), system %v; want user %d, system %v", want.hash, tk.Name, tk.UserID, owner, tk.System, want.user, want.system)
		}
	}
}
