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
		Short:   "List assets, show one, and send asset events: what starts pipelines scheduled on assets",
		Long: `Work with the assets of a running sluice server. An asset is a name for
data (warehouse.orders, s3://lake/customers). A task that lists it under
produces: records an event of it each time it succeeds; a pipeline whose
schedule is {assets: [a, b]} runs as soon as each of a and b has had an
event since its last run on assets.

'sluice assets list' lists the known assets with their newest event,
producers and consumers; 'sluice assets show NAME' shows one with its
recent events and whether each consumer has an event it has not used yet.
'sluice assets emit' sends an event for data made outside sluice
(operator).`,
		Example: `  sluice assets list
  sluice assets show warehouse.orders
  sluice assets emit warehouse.orders
  sluice assets emit s3://lake/customers --extra rows=1200 --extra day=2026-12-04
  sluice assets events warehouse.orders`,
	}
	r.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(assetsListCmd(r), assetsShowCmd(r), assetsEmitCmd(r), assetsEventsCmd(r))
	return cmd
}

func assetsEmitCmd(r *remote) *cobra.Command {
	var (
		extras []string
		key    string
	)
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
			res, err := c.EmitAsset(cmd.Context(), args[0], extra, key)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, res)
			}
			if res.Repeat {
				fmt.Fprintf(out, "event %d of %s was recorded before with this key; nothing started\n", res.Event.ID, res.Event.Asset)
				return nil
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
	cmd.Flags().StringVar(&key, "key", "", "make the event once: sent again with the same key, the first event stands and nothing starts (for a script that may retry)")
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
					t.row(fmt.Sprint(e.ID), eventSource(e), extraText(e.Extra), shortTime(e.CreatedAt))
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

func assetsListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the known assets with their newest event, producers and consumers",
		Args:    usageArgs(cobra.NoArgs),
		RunE: listRun(r,
			func(ctx context.Context, c *client.Client, _ []string) ([]api.Asset, error) { return c.Assets(ctx) },
			hint("No assets yet. A task declares what it produces with produces: [NAME]; a pipeline waits for assets with schedule: {assets: [NAME]}."),
			func(out io.Writer, list []api.Asset) {
				t := newTable(out, "ASSET", "LAST EVENT", "EVENTS", "PRODUCERS", "CONSUMERS")
				for _, a := range list {
					last := "-"
					if a.LastEvent != nil {
						last = shortTime(a.LastEvent.CreatedAt)
					}
					t.row(a.Name, last, fmt.Sprint(a.Events), clip(producersText(a.Producers), 50), clip(listText(a.Consumers), 50))
				}
				t.flush()
			}),
	}
}

func assetsShowCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show an asset: its producers, consumers and recent events",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			d, err := c.Asset(cmd.Context(), args[0])
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, d)
			}
			fmt.Fprintf(out, "asset      %s\n", d.Name)
			fmt.Fprintf(out, "events     %d stored\n", d.Events)
			fmt.Fprintf(out, "producers  %s\n", producersText(d.Producers))
			var consumers []string
			for _, s := range d.ConsumerStatus {
				state := "waiting for a new event"
				if s.Fresh {
					state = "has a new event"
				}
				consumers = append(consumers, s.Pipeline+" ("+state+")")
			}
			fmt.Fprintf(out, "consumers  %s\n", listText(consumers))
			if len(d.RecentEvents) == 0 {
				fmt.Fprintln(out, "\nNo events yet.")
				return nil
			}
			fmt.Fprintln(out)
			t := newTable(out, "EVENT", "FROM", "EXTRA", "AT")
			for _, e := range d.RecentEvents {
				t.row(fmt.Sprint(e.ID), eventSource(e), extraText(e.Extra), shortTime(e.CreatedAt))
			}
			t.flush()
			return nil
		},
	}
}

// producersText writes producers as pipeline.task, or "-" for none.
func producersText(ps []api.AssetProducer) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Pipeline + "." + p.Task
	}
	return listText(names)
}

// listText joins names with commas, or is "-" for none.
func listText(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}

// eventSource says where an event came from: its producer's task and run,
// or outside.
func eventSource(e api.AssetEvent) string {
	if e.RunID == nil {
		return "outside"
	}
	return fmt.Sprintf("%s.%s (run %d)", e.Pipeline, e.Task, *e.RunID)
}
