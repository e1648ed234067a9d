package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
)

func tokensCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Create, list and revoke API tokens (admin)",
		Long: `Create, list and revoke the API tokens of a running sluice server. A token
lets a script or another machine use the REST API and these commands:
send it as 'Authorization: Bearer <token>', or give it to the CLI with
$SLUICE_TOKEN (or --token). Its role bounds what it may do: viewer reads,
operator also triggers, cancels and retries, admin does everything. A
token acts for the user who made it: that user's role caps it, and it is
refused while the user is disabled and deleted with them.

Only admins manage tokens. A token's secret is shown once, when it is
created; the server keeps only its hash.`,
		Example: `  sluice tokens create --role operator --name ci --expires 720h
  sluice tokens list
  sluice tokens delete 3`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(tokensCreateCmd(r), tokensListCmd(r), tokensDeleteCmd(r))
	return cmd
}

func tokensCreateCmd(r *remote) *cobra.Command {
	var req api.TokenCreate
	cmd := &cobra.Command{
		Use:   "create --role ROLE [--user USER] [--name NAME] [--expires DURATION]",
		Short: "Create an API token and print its secret, once",
		Long: `Create an API token and print its secret on stdout, alone, so a script can
capture it: TOKEN=$(sluice tokens create --role operator). The secret is
shown only this once; keep it somewhere safe.`,
		Example: `  sluice tokens create --role viewer --name dashboards
  sluice tokens create --role operator --name ci --expires 30d
  sluice users create ci-bot --role operator && sluice tokens create --role operator --user ci-bot --name ci`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Role == "" {
				return exitWith(2, fmt.Errorf("--role is required: viewer, operator or admin"))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			tk, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return r.fail(err)
			}
			if r.json {
				return printJSON(cmd.OutOrStdout(), tk)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tk.Secret)
			expires := "it does not expire"
			if tk.ExpiresAt != nil {
				expires = "it expires " + shortTime(*tk.ExpiresAt)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Created token %d %q with the %s role; %s.\n"+
				"This is the only time its secret is shown. Use it with SLUICE_TOKEN=… or 'Authorization: Bearer …'.\n",
				tk.ID, tk.Name, tk.Role, expires)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Role, "role", "", "what the token may do: viewer, operator or admin (required)")
	f.StringVar(&req.User, "user", "", "the user the token acts for, such as a service account; its role caps the token's, and disabling or deleting it ends the token (default: you, or the installation for the local CLI token)")
	f.StringVar(&req.Name, "name", "", "what the token is for, shown in 'sluice tokens list' (default names you and the role)")
	f.StringVar(&req.ExpiresIn, "expires", "", "lifetime such as 720h or 30d (default: never expires)")
	return cmd
}

func tokensListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API tokens, newest first (without their secrets)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			list, err := c.ListTokens(cmd.Context())
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, list)
			}
			t := newTable(out, "ID", "NAME", "ROLE", "ACTS FOR", "CREATED", "EXPIRES", "LAST USED")
			for _, tk := range list {
				expires := "never"
				if tk.ExpiresAt != nil {
					expires = shortTime(*tk.ExpiresAt)
				}
				t.row(fmt.Sprint(tk.ID), tk.Name, tk.Role, actsFor(tk), shortTime(tk.CreatedAt), expires, shortTimePtr(tk.LastUsedAt))
			}
			t.flush()
			return nil
		},
	}
}

func tokensDeleteCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"revoke"},
		Short:   "Revoke an API token: requests with it are refused at once",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return exitWith(2, fmt.Errorf("token %q: want a token id from 'sluice tokens list'", args[0]))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteToken(cmd.Context(), id); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "revoked token %d\n", id)
			}
			return nil
		},
	}
}

// actsFor says whom a token acts for, and when it is refused, why.
func actsFor(tk api.Token) string {
	switch {
	case tk.System:
		return "the installation"
	case tk.User == "":
		return "no user (refused)"
	case !tk.Usable:
		return tk.User + " (disabled: refused)"
	}
	return tk.User
}
