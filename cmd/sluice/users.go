package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice/api"
)

func usersCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "users",
		Aliases: []string{"user"},
		Short:   "List, create and delete the users who log in to the web UI (admin)",
		Long: `Manage the users of a running sluice server: the people who log in to its
web UI. Each has a role: viewer reads everything, operator also triggers,
cancels and retries, admin also uploads and deletes pipelines and manages
users and tokens. Only admins manage users.

The server creates the first admin, "admin", at its first start (its
password is $SLUICE_ADMIN_PASSWORD, or printed once).`,
		Example: `  sluice users list
  sluice users create alice --role operator
  echo "$PASSWORD" | sluice users create ci-bot --role viewer
  sluice users delete alice`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(usersListCmd(r), usersCreateCmd(r), usersDeleteCmd(r))
	return cmd
}

func usersListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			list, err := c.ListUsers(cmd.Context())
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, list)
			}
			t := newTable(out, "NAME", "ROLE", "DISABLED", "CREATED")
			for _, u := range list {
				disabled := "-"
				if u.Disabled {
					disabled = "disabled"
				}
				t.row(u.Name, u.Role, disabled, shortTime(u.CreatedAt))
			}
			t.flush()
			return nil
		},
	}
}

func usersCreateCmd(r *remote) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE",
		Short: "Create a user; the password is read from the terminal, or from stdin",
		Long: `Create a user who logs in to the web UI. At a terminal, it asks for the
password twice, without showing it; otherwise it reads the first line of
stdin, so a script can pipe it in. A password needs at least 8
characters.`,
		Example: `  sluice users create alice --role operator
  printf '%s\n' "$PASSWORD" | sluice users create ci-bot --role viewer`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return exitWith(2, errors.New("--role is required: viewer, operator or admin"))
			}
			password, err := readPassword(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), api.UserCreate{Name: args[0], Password: password, Role: role})
			if err != nil {
				return r.fail(err)
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), u)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s with the %s role\n", u.Name, u.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "what the user may do: viewer, operator or admin (required)")
	return cmd
}

// readPassword asks for a new password twice at a terminal, or reads the
// first line of stdin.
func readPassword(cmd *cobra.Command, name string) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", exitWith(2, errors.New("no password on stdin: pipe one in, or run this at a terminal to be asked"))
		}
		return password, nil
	}
	errw := cmd.ErrOrStderr()
	fmt.Fprintf(errw, "Password for %s: ", name)
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(errw)
	if err != nil {
		return "", err
	}
	fmt.Fprint(errw, "Again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(errw)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", exitWith(1, errors.New("the passwords differ; nothing was created"))
	}
	return string(p1), nil
}

func usersDeleteCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and end their sessions",
		Long: `Delete a user and end their sessions. You cannot delete the last admin
(make another user admin first), nor yourself.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", args[0])
			}
			return nil
		},
	}
}
