package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

func poolsCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "pools",
		Aliases: []string{"pool"},
		Short:   "List, set and delete pools: named slots that bound how many tasks run at once",
		Long: `Work with the pools of a running sluice server. A pool is a named number of
slots shared by every worker: a task that names a pool (pool: warehouse)
takes one of its slots (or pool_slots) while it runs, so at most that many
such tasks run at once, whichever workers run them. A task whose pool is
full waits, queued; a pool of 0 slots holds its tasks back; a task whose
pool does not exist waits until it does.

Anyone may list pools; admins set and delete them.`,
		Example: `  sluice pools list
  sluice pools set warehouse 4 --description "connections to the warehouse"
  sluice pools set warehouse 0      # hold its tasks back for a while
  sluice pools delete warehouse`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(poolsListCmd(r), poolsSetCmd(r), poolsDeleteCmd(r))
	return cmd
}

func poolsListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List pools with their slots in use and the tasks waiting for them",
		Args:  usageArgs(cobra.NoArgs),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, _ []string) ([]api.Pool, error) { return c.ListPools(ctx) },
			hint("No pools. Create one with 'sluice pools set NAME SLOTS'."),
			func(out io.Writer, list []api.Pool) {
				t := newTable(out, "POOL", "SLOTS", "USED", "QUEUED", "DESCRIPTION")
				for _, p := range list {
					t.row(p.Name, strconv.Itoa(p.Slots), strconv.Itoa(p.Used), strconv.Itoa(p.Queued), orDash(p.Description))
				}
				t.flush()
			}),
	}
}

func poolsSetCmd(r *remote) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "set NAME SLOTS [--description TEXT]",
		Short: "Create a pool, or change its number of slots",
		Long: `Create a pool with SLOTS slots, or resize it. Growing a pool lets waiting
tasks start at once; shrinking it stops none of the running ones, it only
holds new ones back until enough have finished. 0 slots holds every task
of the pool back.

Without --description, a pool being resized keeps its description.`,
		Example: `  sluice pools set warehouse 4
  sluice pools set gpu 2 --description "the two GPU boxes"`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			slots, err := strconv.Atoi(args[1])
			if err != nil || slots < 0 {
				return exitWith(2, fmt.Errorf("SLOTS %q: want a number of slots, 0 or more", args[1]))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !cmd.Flags().Changed("description") {
				// The API sets the description it is given: keep the one
				// the pool has.
				list, err := c.ListPools(ctx)
				if err != nil {
					return r.fail(err)
				}
				for _, p := range list {
					if p.Name == name {
						description = p.Description
					}
				}
			}
			p, err := c.SetPool(ctx, name, slots, description)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, p)
			}
			fmt.Fprintf(out, "pool %s has %d slot(s); %d in use, %d task(s) waiting\n", p.Name, p.Slots, p.Used, p.Queued)
			return nil
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the pool is for, shown in 'sluice pools list'")
	return cmd
}

func poolsDeleteCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a pool; tasks that name it wait until it exists again",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeletePool(cmd.Context(), args[0]); err != nil {
				return r.fail(err)
			}
			if !r.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted pool %s\n", args[0])
			}
			return nil
		},
	}
}
