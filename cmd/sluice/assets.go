package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

func assetsCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{
		Use:     "assets",
		Aliases: []string{"asset"},
		Short:   "Send and list asset events: what starts pipelines scheduled on assets",
		Long: `Work with the assets of a running sluice server. An asset is a name for
data (warehouse.orders, s3://lake/customers). A task that lists it under
produces: records an event of it each time it succeeds; a pipeline whose
schedule is {assets: [a, b]} runs as soon as each of a and b has had an
event since its last run on assets.

'sluice assets emit' sends an event for data made outside sluice
(operator).`,
		Example: `  sluice assets emit warehouse.orders
  sluice assets emit s3://lake/customers --extra rows=1200 --extra day=2026-12-04
  sluice assets events warehouse.orders`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(assetsEmitCmd(r), assetsEventsCmd(r))
	return cmd
}

func assetsEmitCmd(r *remote) *cobra.Command {
	var extras []string
	cmd := &cobra.Command{
		Use:   "emit NAME",
		Short: "Record an event of an asset, starting the pipelines it completes",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			extra := map[string]string{}
			for _, kv := range extras {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return exitWith(2, fmt.Errorf("--extra %q: want key=value", kv))
				}
				extra[k] = v
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.EmitAsset(cmd.Context(), args[0], extra)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "recorded event %d of %s\n", res.Event.ID, res.Event.Asset)
			if len(res.Runs) == 0 {
				fmt.Fprintln(out, "no pipeline started: none waits only for what it now has")
			}
			for _, run := range res.Runs {
				fmt.Fprintf(out, "started run %d of %s\n", run.ID, run.Pipeline)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&extras, "extra", nil, "a key=value to send with the event (repeatable)")
	return cmd
}

func assetsEventsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "events NAME",
		Short: "List an asset's newest events, newest first",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, args []string) ([]api.AssetEvent, error) {
				return c.AssetEvents(ctx, args[0])
			},
			hint("No events yet. A task with produces: records one each time it succeeds; 'sluice assets emit NAME' sends one."),
			func(out io.Writer, list []api.AssetEvent) {
				t := newTable(out, "EVENT", "FROM", "EXTRA", "AT")
				for _, e := range list {
					from := "outside"
					if e.RunID != nil {
						from = fmt.Sprintf("%s.%s (run %d)", e.Pipeline, e.Task, *e.RunID)
					}
					t.row(fmt.Sprint(e.ID), from, extraText(e.Extra), shortTime(e.CreatedAt))
				}
				t.flush()
			}),
	}
}

// extraText writes an event's extra values as k=v, sorted by key.
func extraText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return clip(strings.Join(parts, " "), 60)
}
