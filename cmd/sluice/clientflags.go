package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/client"
	"github.com/sluice-dev/sluice/server"
)

// The commands that talk to a running server through its REST API.

const defaultServer = "http://127.0.0.1:8080"

// clientCmds returns the API client commands for the root.
func clientCmds() []*cobra.Command {
	cmds := []*cobra.Command{pipelinesCmd(), runsCmd(), logsCmd(), backfillCmd(), poolsCmd(), varsCmd(), secretsCmd(), assetsCmd(), workersCmd(), tokensCmd(), usersCmd()}
	cmds = append(cmds, capacityCmd(), dbCmd())
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		// A group that does something itself (sluice backfill PIPELINE)
		// keeps its own arguments and action.
		if c.HasSubCommands() && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = groupRun
		}
		documentEnv(c.PersistentFlags())
		documentEnv(c.LocalNonPersistentFlags())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range cmds {
		walk(c)
	}
	return cmds
}

// groupRun runs a command that only groups others: it shows its help, or
// refuses an unknown subcommand as a usage error.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	cmd.SuggestionsMinimumDistance = 2
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return exitWith(2, fmt.Errorf("%s\nRun '%s --help' for usage.", msg, cmd.CommandPath()))
}

// remote holds the flags of a command that talks to a server.
type remote struct {
	server string
	token  string
	json   bool
	// utc prints times in UTC instead of the local zone.
	utc bool
	// tokenFile is where the token came from when read from a file.
	tokenFile string
}

// addFlags defines --server, --token and --json on fs.
func (r *remote) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&r.server, "server", defaultServer, "URL of the sluice server")
	fs.StringVar(&r.token, "token", "", "API token; better set in the environment, since a flag shows in the process list. "+
		"Without one, on the server's machine, the admin token the server keeps in its home directory (SLUICE_HOME, or ./.sluice) as cli-token")
	fs.BoolVar(&r.json, "json", false, "print the API's JSON instead of tables, for scripts")
	fs.BoolVar(&r.utc, "utc", false, "print times in UTC instead of the local time zone ($TZ); JSON is always UTC")
}

// client returns a client of the server, with the token of --token, or
// on loopback the local CLI token the server wrote.
func (r *remote) client() (*client.Client, error) {
	if r.utc {
		displayZone = time.UTC
	}
	base := r.server
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, exitWith(2, fmt.Errorf("--server %q: want a URL such as %s", r.server, defaultServer))
	}
	token := strings.TrimSpace(r.token)
	if token == "" && isLoopback(u.Hostname()) {
		token, r.tokenFile = localToken()
	}
	return client.New(base, token, client.WithUserAgent("sluice-cli/"+sluice.Version())), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// localToken reads the admin token `sluice server` keeps for the CLI on
// its machine: in $SLUICE_HOME, else in ./.sluice (the server's default
// home when started in this directory).
func localToken() (token, file string) {
	var files []string
	if home := os.Getenv("SLUICE_HOME"); home != "" {
		files = append(files, filepath.Join(home, server.CLITokenFile))
	}
	files = append(files, filepath.Join(".sluice", server.CLITokenFile))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			if t := strings.TrimSpace(string(data)); t != "" {
				return t, f
			}
		}
	}
	return "", ""
}

// fail turns an error of the API into the command's error: the server's
// message, with a hint of what to do where one helps, and exit status 1;
// 2 when the server found the request malformed (bad_request), since a
// command builds its requests from its flags and arguments.
func (r *remote) fail(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	msg := err.Error()
	switch sluice.ErrorCode(err) {
	case sluice.EUNAUTH:
		switch {
		case r.token != "":
			msg += "\n(the token given with --token or $SLUICE_TOKEN was refused)"
		case r.tokenFile != "":
			msg += fmt.Sprintf("\n(the local token in %s was refused: restarting the server renews it)", r.tokenFile)
		default:
			msg += "\npass an API token with --token or $SLUICE_TOKEN: an admin creates one with 'sluice tokens create --role operator'" +
				" (on the server's machine, run this where the server keeps its home, or set $SLUICE_HOME)"
		}
	case sluice.EFORBIDDEN:
		msg += "\n(ask an admin for a token with a higher role)"
	case sluice.EUNAVAIL:
		msg += fmt.Sprintf("\nis the server running? start one with 'sluice server', or point --server (or $SLUICE_SERVER) at it (now %s)", r.server)
	case sluice.EBADREQUEST:
		return exitWith(2, errors.New(msg))
	}
	return exitWith(1, errors.New(msg))
}

// usageArgs wraps an argument check so that a wrong number of arguments
// exits 2, like any other usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(cmd, err)
		}
		return nil
	}
}

// runArg reads a run id argument.
func runArg(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, exitWith(2, fmt.Errorf("run %q: want a run id, a number such as 42", s))
	}
	return id, nil
}

// listRun is the action of a list command: fetch the list from the API,
// then print it as the API's JSON with --json, as the hint empty(args)
// when there is nothing, or else with table.
func listRun[T any](r *remote, fetch func(ctx context.Context, c *client.Client, args []string) ([]T, error),
	empty func(args []string) string, table func(out io.Writer, list []T)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		list, err := fetch(cmd.Context(), c, args)
		if err != nil {
			return r.fail(err)
		}
		out := cmd.OutOrStdout()
		switch {
		case r.json:
			return printJSON(out, list)
		case len(list) == 0:
			fmt.Fprintln(out, empty(args))
		default:
			table(out, list)
		}
		return nil
	}
}

// hint is an empty-list message that does not depend on the arguments.
func hint(s string) func([]string) string { return func([]string) string { return s } }
