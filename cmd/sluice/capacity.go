package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/capacity"
	"github.com/sluice-dev/sluice/client"
)

func capacityCmd() *cobra.Command {
	r := &remote{}
	var q client.CapacityQuery
	cmd := &cobra.Command{
		Use:   "capacity [--days N] [--pipeline ID] [--threshold pipeline.task.metric=VALUE]",
		Short: "Plan capacity: trends of runs, run times, pool use and volumes, with forecasts",
		Long: `Show, for the last days of a running server's history, how each pipeline,
pool and reported volume is trending, and when at this growth a limit is
reached:

  - a pool is full in its busiest hour (utilisation: slot-seconds used ÷
    slots × seconds);
  - a pipeline's p95 run time passes its schedule interval, so runs start
    to overlap or queue;
  - a volume a task reports (a metric.<name>=<number> line in
    $SLUICE_OUTPUT) passes a threshold you give with --threshold, compared
    with its daily mean.

Days are whole UTC days; today is left out because it is not over. A
forecast is a straight line fitted to the days; it needs 7 days with data
and a clear trend, and says so when it has neither. Only runs the server
still stores count: when retention pruned older ones, the report says where
its history starts.`,
		Example: `  sluice capacity
  sluice capacity --days 14 --pipeline daily_orders
  sluice capacity --threshold daily_orders.load.rows=5M
  sluice capacity --json | jq '.forecasts[] | select(.risk == "high")'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			rep, err := c.Capacity(cmd.Context(), q)
			if err != nil {
				return r.fail(err)
			}
			out := cmd.OutOrStdout()
			if r.json {
				return printJSON(out, rep)
			}
			printCapacity(out, rep)
			return nil
		},
	}
	r.addFlags(cmd.Flags())
	fl := cmd.Flags()
	fl.IntVar(&q.Days, "days", 28, "the window: this many whole days before today, at most 366")
	fl.StringVar(&q.Pipeline, "pipeline", "", "only this pipeline's runs and volumes (pools are shared, and always shown)")
	fl.StringArrayVar(&q.Thresholds, "threshold", nil, "forecast when a volume's daily mean passes a value: pipeline.task.metric=VALUE, such as daily_orders.load.rows=5M (repeat for more)")
	commandLineOnly(cmd, "pipeline")
	return cmd
}

// printCapacity prints a report as the forecasts in sentences, then a
// table each of pipelines, pools and volumes, then the notes.
func printCapacity(w io.Writer, rep *api.Capacity) {
	last := rep.To.AddDate(0, 0, -1)
	fmt.Fprintf(w, "Capacity over %d days, %s to %s (UTC days; today is left out).\n", rep.Days, rep.From.Format(time.DateOnly), last.Format(time.DateOnly))
	if len(rep.Pipelines)+len(rep.Pools)+len(rep.Volumes) == 0 {
		fmt.Fprintln(w, "\nNo runs in this window: nothing to plan from yet.")
		printNotes(w, rep.Notes)
		return
	}

	if len(rep.Forecasts) > 0 {
		fmt.Fprintln(w, "\nForecasts, most urgent first:")
		for _, f := range rep.Forecasts {
			fmt.Fprintf(w, "  %-7s %s\n", strings.ToUpper(f.Risk), f.Message)
		}
	}

	if len(rep.Pipelines) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "PIPELINE", "SCHEDULE", "INTERVAL", "RUNS", "RUNS/DAY", "P50", "P95", "P95 TREND", "P95 PASSES INTERVAL")
		for _, p := range rep.Pipelines {
			interval := "-"
			if p.IntervalSeconds != nil {
				interval = capacity.Duration(secs(*p.IntervalSeconds))
			}
			t.row(p.ID, orDash(p.Schedule), interval, strconv.Itoa(p.Runs), perDay(p.RunsPerDay),
				lastOf(p.P50Seconds, durationText), lastOf(p.P95Seconds, durationText), trendOf(p.P95Seconds, signedDurationText), when(p.Overrun))
		}
		t.flush()
	}

	if len(rep.Pools) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "POOL", "SLOTS", "SLOT-HOURS", "DAILY MEAN", "BUSIEST HOUR", "TREND", "FULL DAYS", "FULL")
		for _, p := range rep.Pools {
			slots := strconv.Itoa(p.Slots)
			if !p.Exists {
				slots = "deleted"
			}
			t.row(p.Name, slots, capacity.Number(p.SlotHours), lastOf(p.Utilisation, capacity.Percent), lastOf(p.PeakUtilisation, capacity.Percent),
				trendOf(p.PeakUtilisation, signedPointsText), strconv.Itoa(p.FullDays), when(p.Full))
		}
		t.flush()
	}

	if len(rep.Volumes) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "VOLUME", "VALUES", "DAILY MEAN", "TREND", "THRESHOLD", "PASSES")
		for _, v := range rep.Volumes {
			threshold := "-"
			if v.Threshold != nil {
				threshold = capacity.Number(*v.Threshold)
			}
			values := strconv.Itoa(v.Count)
			if v.Invalid > 0 {
				values += fmt.Sprintf(" (+%d not numbers)", v.Invalid)
			}
			t.row(v.Key, values, lastOf(v.Mean, capacity.Number), trendOf(v.Mean, signedNumberText), threshold, when(v.Forecast))
		}
		t.flush()
		if !hasThreshold(rep.Volumes) {
			fmt.Fprintln(w, "Forecast a volume with --threshold "+rep.Volumes[0].Key+"=VALUE.")
		}
	}
	printNotes(w, rep.Notes)
}

func printNotes(w io.Writer, notes []string) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(w, "\nNotes:")
	for _, n := range notes {
		fmt.Fprintln(w, "  - "+n)
	}
}

func hasThreshold(vs []api.CapacityVolume) bool {
	for _, v := range vs {
		if v.Threshold != nil {
			return true
		}
	}
	return false
}

// when says in a few words when a forecast's limit is reached.
func when(f *api.CapacityForecast) string {
	if f == nil {
		return "-"
	}
	switch f.Status {
	case string(capacity.StatusDate):
		in := "today"
		if f.Days != nil && *f.Days > 0 {
			in = "in " + strconv.Itoa(*f.Days) + " days"
			if *f.Days == 1 {
				in = "tomorrow"
			}
		}
		return f.Date.Format(time.DateOnly) + " (" + in + ")"
	case string(capacity.StatusAlready):
		if f.Date != nil {
			return "already, since " + f.Date.Format(time.DateOnly)
		}
		return "already"
	case string(capacity.StatusBeyond):
		return "not within 2 years"
	case string(capacity.StatusNoGrowth):
		return "no growth"
	case string(capacity.StatusInsufficient):
		if f.DaysWithData == 0 {
			return "no data"
		}
		return fmt.Sprintf("too little data (%d days)", f.DaysWithData)
	}
	return f.Status
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func durationText(s float64) string { return capacity.Duration(secs(s)) }

func signedDurationText(s float64) string {
	if s >= 0 {
		return "+" + capacity.Duration(secs(s))
	}
	return capacity.Duration(secs(s))
}

func signedPointsText(f float64) string {
	return fmt.Sprintf("%+.1f pts", f*100)
}

func signedNumberText(v float64) string {
	if v >= 0 {
		return "+" + capacity.Number(v)
	}
	return capacity.Number(v)
}

// lastOf formats the last value of a series; "-" when it has none.
func lastOf(s api.CapacitySeries, format func(float64) string) string {
	if len(s.Points) == 0 {
		return "-"
	}
	return format(s.Points[len(s.Points)-1].Value)
}

// trendOf formats a series' slope per week.
func trendOf(s api.CapacitySeries, format func(float64) string) string {
	if s.Trend == nil {
		return "-"
	}
	return format(s.Trend.SlopePerWeek) + "/wk"
}

// perDay is the mean of a daily series.
func perDay(s api.CapacitySeries) string {
	if len(s.Points) == 0 {
		return "-"
	}
	var sum float64
	for _, p := range s.Points {
		sum += p.Value
	}
	return strconv.FormatFloat(sum/float64(len(s.Points)), 'f', 1, 64)
}
