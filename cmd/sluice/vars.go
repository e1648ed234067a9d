package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
	"github.com/sluice-dev/sluice/control"
)

func varsCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "vars",
		Aliases: []string{"var", "variables", "variable"},
		Short:   "List, get, set and delete variables: values pipelines read as ${{ vars.NAME }}",
		Long: `Work with the variables of a running sluice server. A variable is a named
value shared by every pipeline, read in expressions as ${{ vars.NAME }}
(in env values, URLs, when: and for_each:), so a setting such as a bucket
or a cut-off date changes without changing a pipeline file. A run reads
the values as they are when its tasks start.

Variables are not secret: use 'sluice secrets' for passwords and keys.
Operators and admins read and change them.`,
		Example: `  sluice vars set bucket s3://warehouse-prod
  sluice vars get bucket
  sluice vars set regions - < regions.json
  sluice vars list
  sluice vars delete bucket`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(varsListCmd(r), varsGetCmd(r), varsSetCmd(r), varsDeleteCmd(r))
	return cmd
}

func varsListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List variables with their values",
		Args:  usageArgs(cobra.NoArgs),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, _ []string) ([]api.Variable, error) {
				return c.ListVariables(ctx)
			},
			hint("No variables. Set one with 'sluice vars set NAME VALUE'."),
			func(out io.Writer, list []api.Variable) {
				t := newTable(out, "VARIABLE", "VALUE", "UPDATED")
				for _, v := range list {
					t.row(v.Name, clip(v.Value, 60), shortTime(v.UpdatedAt))
				}
				t.flush()
			}),
	}
}

// clip shortens s to one line of at most n characters for a table,
// showing where it was cut.
func clip(s string, n int) string {
	if s == "" {
		return `""`
	}
	first, _, multi := strings.Cut(s, "\n")
	r := []rune(first)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if multi {
		return first + " …"
	}
	return first
}

func varsGetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Print a variable's value, as it is, for scripts",
		Example: `  sluice vars get bucket
  BUCKET=$(sluice vars get bucket)`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			v, err := c.GetVariable(cmd.Context(), args[0])
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, v)
			}
			fmt.Fprint(out, v.Value)
			if !strings.HasSuffix(v.Value, "\n") {
				fmt.Fprintln(out)
			}
			return nil
		},
	}
}

func varsSetCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME VALUE",
		Short: "Set a variable; VALUE - reads it from stdin",
		Long: `Set a variable, creating it or replacing its value. With - as VALUE the
value is read from stdin, to its end (one trailing newline is dropped),
for values that span lines or would be awkward to quote. An empty value
is a value: use 'sluice vars delete' to remove a variable.

NAME is letters, digits and _, not starting with a digit.`,
		Example: `  sluice vars set bucket s3://warehouse-prod
  sluice vars set cutoff ""
  sluice vars set regions - < regions.json`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, value := args[0], args[1]
			if value == "-" {
				var err error
				if value, err = readValue(os.Stdin, control.MaxVariable, "variable "+name); err != nil {
					return err
				}
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			v, err := c.SetVariable(cmd.Context(), name, value)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, v)
			}
			fmt.Fprintf(out, "set variable %s = %s\n", v.Name, clip(v.Value, 60))
			return nil
		},
	}
}

func varsDeleteCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a variable",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteVariable(cmd.Context(), args[0]); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted variable %s\n", args[0])
			}
			return nil
		},
	}
}
