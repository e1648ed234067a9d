package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/bench"
	"github.com/sluice-dev/sluice/docker"
)

func benchCmd() *cobra.Command {
	var (
		o       bench.Options
		ko      bench.KubeOptions
		so      bench.SoakOptions
		asJSON  bool
		printP  bool
		profile string
	)
	var names []string
	for name := range bench.Scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	var help strings.Builder
	for _, n := range names {
		fmt.Fprintf(&help, "  %-13s %s\n", n, bench.Scenarios[n])
	}
	cmd := &cobra.Command{
		Use:   "bench SCENARIO",
		Short: "Measure sluice on a scenario: chain, fanout, shell-chain, shell-fanout, container-chain, container-fanout, k8s-fanout, asset-hop, webhook or soak",
		Long: "Run a benchmark scenario on a fresh temporary store and print its figures.\n\nScenarios:\n" + help.String() +
			"\nTimes come from the database's own records of each attempt (webhook: from the\nmoment each request is sent). asset-hop and webhook print each delay's\np50/p95/p99: answered (webhook: until the 201, by when the run and its queued\ntask are committed), queued (until the consumer's or the delivery's task is\nready to claim) and started (until its attempt started). With --db and\n--workers-procs K the workers are K 'sluice worker' processes, so a hop\ncrosses processes.\n\nRecord results in bench/RESULTS.md with the machine and the date.",
		Example: "  sluice bench chain --tasks 1000\n  sluice bench fanout --tasks 10000 --json\n  sluice bench soak --tasks 100000 --retention 20s\n" +
			"  sluice bench asset-hop --tasks 200\n  sluice bench asset-hop --tasks 200 --db postgres://postgres@127.0.0.1:5432/postgres --workers-procs 2\n" +
			"  sluice bench webhook --requests 500\n  sluice bench k8s-fanout --tasks 200 --kubeconfig ~/.cache/sluice-k8s/run/kubeconfig",
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Scenario = args[0]
			if _, ok := bench.Scenarios[o.Scenario]; !ok {
				return exitWith(2, fmt.Errorf("unknown scenario %q: want one of %s", o.Scenario, strings.Join(names, ", ")))
			}
			if o.Scenario == "soak" {
				so.DB, so.Sync, so.Concurrency = o.DB, o.Sync, o.Concurrency
				if cmd.Flags().Changed("tasks") {
					so.Instances = o.Tasks
				}
				return runSoak(cmd, so, asJSON)
			}
			if o.Scenario == "k8s-fanout" {
				if printP {
					return exitWith(2, errors.New("k8s-fanout builds its pipeline in Go (the container-fanout file with each task made a Kubernetes pod task): try --print-pipeline with container-fanout"))
				}
				ko.Sync = o.Sync
				if cmd.Flags().Changed("tasks") {
					ko.Tasks = o.Tasks
				}
				if cmd.Flags().Changed("concurrency") {
					ko.Concurrency = o.Concurrency
				}
				if cmd.Flags().Changed("image") {
					ko.Image = o.Image
				}
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
				return runKubeFanout(cmd, ko, asJSON)
			}
			if printP {
				if o.Scenario == "asset-hop" && !cmd.Flags().Changed("tasks") {
					o.Tasks = 100
				}
				src, err := bench.Source(o.Scenario, o.Tasks, o.Image)
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), src)
				return nil
			}
			stop, err := startCPUProfile(profile)
			if err != nil {
				return err
			}
			defer stop()
			run := bench.Run
			switch o.Scenario {
			case "asset-hop":
				if !cmd.Flags().Changed("tasks") {
					o.Tasks = 100
				}
				run = bench.AssetHop
			case "webhook":
				run = bench.Webhook
			}
			res, err := run(cmd.Context(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(res)
			}
			if res.WorkerProcs > 0 {
				fmt.Fprintf(out, "scenario      %s (%s, %d worker processes x %d slots)\n", res.Scenario, res.Store, res.WorkerProcs, res.Concurrency)
			} else {
				fmt.Fprintf(out, "scenario      %s (%s, %d worker(s) x %d slots)\n", res.Scenario, res.Store, res.Workers, res.Concurrency)
			}
			if o.Scenario == "webhook" {
				fmt.Fprintf(out, "requests      %d\n", res.Tasks)
				fmt.Fprintf(out, "seconds       %.3f\n", res.Seconds)
				fmt.Fprintf(out, "requests/sec  %.0f\n", res.TasksPerSec)
			} else {
				fmt.Fprintf(out, "tasks         %d\n", res.Tasks)
				fmt.Fprintf(out, "seconds       %.3f\n", res.Seconds)
				fmt.Fprintf(out, "tasks/sec     %.0f\n", res.TasksPerSec)
			}
			for _, l := range []struct {
				name string
				l    *bench.Latency
			}{{"answered", res.Answered}, {"queued", res.Queued}, {"started", res.Started}} {
				if l.l != nil {
					fmt.Fprintf(out, "%-13s p50/p95/p99 %.3f / %.3f / %.3f ms (max %.3f, n %d)\n", l.name, l.l.P50Ms, l.l.P95Ms, l.l.P99Ms, l.l.MaxMs, l.l.N)
				}
			}
			if res.Hops > 0 && res.Started == nil {
				fmt.Fprintf(out, "hop p50/p99   %.3f / %.3f ms (max %.3f, %d hops)\n", res.HopP50Ms, res.HopP99Ms, res.HopMaxMs, res.Hops)
			}
			if res.BaselineSeconds != nil {
				what := "bare fork/exec"
				if strings.HasPrefix(res.Scenario, "container-") {
					what = "bare containers"
				}
				fmt.Fprintf(out, "baseline      %.3f s of %s (%.2fx; %.3f s before the run, %.3f s after)\n", *res.BaselineSeconds, what, res.Seconds / *res.BaselineSeconds,
					*res.BaselineBefore, *res.BaselineAfter)
			}
			fmt.Fprintf(out, "peak RSS      %.1f MB\n", res.PeakRSSMB)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Tasks, "tasks", 1000, "number of tasks N (asset-hop: pipelines in the chain, default 100; k8s-fanout: default 200)")
	f.IntVar(&o.Requests, "requests", 200, "webhook: number of deliveries N, after 10 that warm up")
	f.IntVar(&o.Concurrency, "concurrency", 16, fmt.Sprintf("slots of each worker (k8s-fanout: default %d, as a pod holds its slot while it runs)", bench.DefaultKubeConcurrency))
	f.IntVar(&o.Workers, "workers", 1, "workers in this process")
	f.StringVar(&o.Sync, "sync", "normal", "SQLite durability: normal or full")
	f.StringVar(&o.DB, "db", "", "run on PostgreSQL (a postgres:// URL), in a fresh schema dropped afterwards")
	f.IntVar(&o.WorkerProcs, "workers-procs", 0, "run the workers as this many 'sluice worker' processes (PostgreSQL only)")
	f.StringVar(&o.ContainerHost, "container-host", docker.HostFromEnv(), "container scenarios: the engine (Docker or Podman's API service)")
	f.StringVar(&o.Image, "image", bench.DefaultImage, "container scenarios: the tasks' image, on the engine already, with a `true` command")
	f.StringVar(&ko.Kubeconfig, "kubeconfig", "", "k8s-fanout: the cluster's kubeconfig (default $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&ko.Namespace, "namespace", "sluice-bench", "k8s-fanout: the pods' namespace, created when missing")
	f.StringVar(&ko.Node, "node", "kwok-node-0", "k8s-fanout: the node the pods run on (kubernetes.io/hostname); kwok's pods succeed 2 s after they run")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVar(&printP, "print-pipeline", false, "print the scenario's pipeline file instead of running it")
	f.StringVar(&profile, "cpuprofile", "", "write this process's CPU profile to the file, for `go tool pprof` (worker processes are not in it)")
	so.Retention = 20 * time.Second
	f.Var((*days)(&so.Retention), "retention", "soak: how long finished runs are kept")
	f.DurationVar(&so.RetentionEvery, "retention-every", 2*time.Second, "soak: how often retention runs")
	f.IntVar(&so.ActiveRuns, "active-runs", 16, "soak: runs kept going at once")
	f.DurationVar(&so.Sample, "sample", 5*time.Second, "soak: how often the database size is sampled")
	cmd.AddCommand(benchListCmd())     // bench_list.go
	cmd.AddCommand(benchParseCmd())    // bench_parse.go
	cmd.AddCommand(benchScheduleCmd()) // bench_schedule.go
	return cmd
}

// runKubeFanout runs the k8s-fanout scenario and prints its figures.
func runKubeFanout(cmd *cobra.Command, o bench.KubeOptions, asJSON bool) error {
	res, err := bench.KubeFanout(cmd.Context(), o)
	if res == nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		if jerr := json.NewEncoder(out).Encode(res); jerr != nil {
			return jerr
		}
		return err
	}
	fmt.Fprintf(out, "scenario      %s (%s, 1 worker x %d slots, node %s, namespace %s)\n", res.Scenario, res.Store, res.Concurrency, res.Node, res.Namespace)
	fmt.Fprintf(out, "tasks         %d\n", res.Tasks)
	fmt.Fprintf(out, "wall          %.3f s (run created to run finished)\n", res.WallSeconds)
	fmt.Fprintf(out, "pod window    %.3f s (first pod create sent to last pod delete answered); creates took %.3f s\n", res.WindowSeconds, res.CreateSeconds)
	fmt.Fprintf(out, "pods          %d created, %d completed, %d cleaned: %.1f / %.1f / %.1f per second\n",
		res.Created, res.Completed, res.Cleaned, res.CreatedPerSec, res.CompletedPerSec, res.CleanedPerSec)
	pt := res.PerTask
	fmt.Fprintf(out, "API per task  %.2f beyond the log stream: pods create+delete %.2f, secrets %.2f, watch/list %.2f, other %.2f; log streams %.2f\n",
		pt.BeyondLogs, pt.PodCreateDelete, pt.Secrets, pt.WatchList, pt.Other, pt.Logs)
	for _, what := range bench.SortedRequests(res.Requests) {
		fmt.Fprintf(out, "  %-22s %d\n", what, res.Requests[what])
	}
	fmt.Fprintf(out, "leaked        %d pods, %d secrets\n", res.LeakedPods, res.LeakedSecrets)
	fmt.Fprintf(out, "peak RSS      %.1f MB (the whole process: store and worker)\n", res.PeakRSSMB)
	fmt.Fprintf(out, "CPU           %.2f s, %.1f ms per pod (the whole process)\n", res.CPUSeconds, res.CPUMsPerPod)
	return err
}

// runSoak runs the soak scenario and prints its samples as they come.
func runSoak(cmd *cobra.Command, o bench.SoakOptions, asJSON bool) error {
	out := cmd.OutOrStdout()
	if !asJSON {
		fmt.Fprintf(out, "%8s %12s %14s %12s %10s\n", "seconds", "instances", "instance rows", "db MB", "wal MB")
		o.Progress = func(s bench.SoakSample) {
			fmt.Fprintf(out, "%8.0f %12d %14d %12.1f %10.1f\n", s.Seconds, s.Done, s.Rows, mb(s.Bytes), mb(s.WALBytes))
		}
	}
	res, err := bench.Soak(cmd.Context(), o)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	fmt.Fprintf(out, "\nscenario      soak (%s, retention %s)\n", res.Store, res.Retention)
	fmt.Fprintf(out, "instances     %d in %d runs, %.0f s (%.0f/s)\n", res.Instances, res.Runs, res.Seconds, res.InstancesPerS)
	fmt.Fprintf(out, "instance rows peak %d, at end %d\n", res.PeakRows, res.FinalRows)
	fmt.Fprintf(out, "db size       %.1f MB at half-way, %.1f MB at the end (%+.1f%%), peak %.1f MB\n",
		mb(res.HalfBytes), mb(res.FinalBytes), 100*res.GrowthLastHalf, mb(res.PeakBytes))
	fmt.Fprintf(out, "peak RSS      %.1f MB\n", res.PeakRSSMB)
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// startCPUProfile writes a CPU profile to path (nothing when path is
// empty) until the function it returns is called.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
