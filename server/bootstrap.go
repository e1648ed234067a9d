package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// CLITokenFile is the file in a SQLite home directory that holds an admin
// API token for the CLI on the same machine, readable by its owner only.
const CLITokenFile = "cli-token"

// firstAdmin is what createFirstAdmin did, for bootstrapAuth to tell.
type firstAdmin struct {
	// created is set when the first admin was created, with password
	// (chosen by env when set).
	created       bool
	password, env string
	err           error
}

// createFirstAdmin creates the first admin when there are no users and
// password authentication is on. The server calls it before the pipeline
// loader and the roles start: hashing the password takes argon2id's 19
// MiB, and returning it to the OS at once keeps it from adding to the
// peak of a first start that loads and runs big pipelines.
func createFirstAdmin(ctx context.Context, a *auth.Auth) firstAdmin {
	if a.Mode() != auth.ModePassword {
		return firstAdmin{}
	}
	env := os.Getenv(auth.AdminPasswordEnvVar)
	created, password, err := a.EnsureAdmin(ctx, env)
	if created {
		// Hashing the password took argon2id's 19 MiB, now garbage: an idle
		// server would otherwise hold it (about a third of its RSS) until
		// the runtime next collects and returns memory, minutes later. Once,
		// on the first start: a millisecond.
		debug.FreeOSMemory()
	}
	return firstAdmin{created: created, password: password, env: env, err: err}
}

// bootstrapAuth tells what createFirstAdmin did, printing the first
// admin's password once, and on SQLite keeps a token for the local CLI.
func bootstrapAuth(ctx context.Context, a *auth.Auth, admin firstAdmin, st store.Store, cfg *Config, single bool, url string, log *slog.Logger) error {
	if a.Mode() != auth.ModePassword {
		log.Warn("authentication is off (--auth none): anyone who can reach this address may do anything")
		return nil
	}
	if admin.err != nil {
		return admin.err
	}
	if admin.created {
		log.Info("created the first user", "user", auth.DefaultAdminName)
		if admin.env == "" {
			fmt.Fprintf(os.Stderr, "\n  sluice: created the first user %q with password %s\n"+
				"  Log in at %s and change it. This is the only time it is shown;\n"+
				"  set %s before the first start to choose it.\n\n", auth.DefaultAdminName, admin.password, url, auth.AdminPasswordEnvVar)
		}
	}
	if single {
		return ensureCLIToken(ctx, st, cfg.Home)
	}
	return nil
}

// ensureCLIToken keeps a valid admin token in home/cli-token (mode 0600),
// which `sluice` commands on this machine use when given no --token.
func ensureCLIToken(ctx context.Context, st store.Store, home string) error {
	path := filepath.Join(home, CLITokenFile)
	if data, err := os.ReadFile(path); err == nil {
		if _, err := st.TokenGet(ctx, auth.HashSecret(strings.TrimSpace(string(data)))); err == nil {
			return nil
		} else if sluice.ErrorCode(err) != sluice.ENOTFOUND {
			return err
		}
	}
	secret, hash := auth.NewToken()
	if _, err := st.TokenCreate(ctx, &store.Token{Name: "local CLI (" + path + ")", Hash: hash, Role: store.RoleAdmin, System: true, CreatedBy: "sluice server"}); err != nil {
		return err
	}
	// Written aside and renamed into place: a command started meanwhile
	// reads the old token or the new one, never half of one.
	tmp, err := os.CreateTemp(home, CLITokenFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	if _, err := tmp.WriteString(secret + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
