package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
	"github.com/sluice-dev/sluice/control"
)

func secretsCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "secrets",
		Aliases: []string{"secret"},
		Short:   "Set, list and delete secrets: values tasks get as environment variables, masked in what they produce",
		Long: `Work with the secrets of a running sluice server. A secret is a named value
(a password, an API key) that the server stores encrypted; a task that
lists it (secrets: [API_TOKEN]) gets it as the environment variable of
that name, and sluice masks it as *** in all the task produces: its log,
outputs and error (see "Masking" in docs/pipelines.md for what it cannot
catch: values under 3 bytes, encoded or split values).

A value goes one way only: no command, API response or log shows it
again. 'sluice secrets set' reads it from stdin, never from the command
line, so it stays out of your shell history and the process list.

The server needs a key to encrypt with: $SLUICE_SECRET_KEY (the same on
every process), or on a single SQLite server a key file it creates in its
home. Operators list secrets; only admins set and delete them.`,
		Example: `  sluice secrets set API_TOKEN                      # asks for the value
  printf '%s' "$TOKEN" | sluice secrets set API_TOKEN
  sluice secrets set TLS_KEY < key.pem
  sluice secrets list
  sluice secrets delete API_TOKEN`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(secretsListCmd(r), secretsSetCmd(r), secretsDeleteCmd(r))
	return cmd
}

func secretsListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List secrets: names and when they were set, never their values",
		Args:  usageArgs(cobra.NoArgs),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, _ []string) ([]api.Secret, error) {
				return c.ListSecrets(ctx)
			},
			hint("No secrets. Set one with 'sluice secrets set NAME' (it reads the value from stdin)."),
			func(out io.Writer, list []api.Secret) {
				t := newTable(out, "SECRET", "CREATED", "UPDATED")
				for _, s := range list {
					t.row(s.Name, shortTime(s.CreatedAt), shortTime(s.UpdatedAt))
				}
				t.flush()
			}),
	}
}

func secretsSetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME",
		Short: "Set a secret's value, read from stdin (asked for, unechoed, at a terminal)",
		Long: `Set a secret's value, creating the secret or replacing its value. The value
is read from stdin, to its end, so it may span lines (a PEM key); one
trailing newline is dropped, so 'echo "$TOKEN" |' works. At a terminal,
it asks for the value without showing it.

NAME becomes an environment variable of the tasks that list the secret:
letters, digits and _, not starting with a digit, and not SLUICE_….`,
		Example: `  sluice secrets set API_TOKEN
  printf '%s' "$TOKEN" | sluice secrets set API_TOKEN
  sluice secrets set TLS_KEY < key.pem`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			value, err := readSecret(cmd, name, os.Stdin)
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.SetSecret(cmd.Context(), name, value); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "set secret %s (%d bytes)\n", name, len(value))
			}
			return nil
		},
	}
}

// readSecret reads a secret's value: asked for without echo at a
// terminal, else the whole of stdin less one trailing newline.
func readSecret(cmd *cobra.Command, name string, in *os.File) (string, error) {
	if fd := int(in.Fd()); term.IsTerminal(fd) {
		fmt.Fprintf(cmd.ErrOrStderr(), "Value of secret %s (not shown): ", name)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", err
		}
		if len(b) == 0 {
			return "", exitWith(2, errors.New("no value given; nothing was set"))
		}
		return string(b), nil
	}
	value, err := readValue(in, control.MaxSecret, "secret "+name)
	if err != nil {
		return "", err
	}
	if value == "" {
		return "", exitWith(2, fmt.Errorf("no value on stdin for secret %s: pipe it in (printf '%%s' \"$VALUE\" | sluice secrets set %s), or run this at a terminal to be asked", name, name))
	}
	return value, nil
}

// readValue reads all of in, at most max bytes, and drops one trailing
// newline (\n or \r\n): the one echo and most editors add.
func readValue(in io.Reader, max int, what string) (string, error) {
	data, err := io.ReadAll(io.LimitReader(in, int64(max)+3))
	if err != nil {
		return "", exitWith(1, fmt.Errorf("reading the value of %s from stdin: %v", what, err))
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	if len(s) > max {
		return "", exitWith(2, fmt.Errorf("the value of %s on stdin is over the limit of %d bytes", what, max))
	}
	return s, nil
}

func secretsDeleteCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a secret; tasks that list it fail until it is set again",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteSecret(cmd.Context(), args[0]); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted secret %s\n", args[0])
			}
			return nil
		},
	}
}
