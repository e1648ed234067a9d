package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// parseBenchResult is one size of sluice bench parse.
type parseBenchResult struct {
	Tasks int `json:"tasks"`
	Edges int `json:"edges"`
	Bytes int `json:"bytes"`
	// ParseMs is pipeline.Parse (read, validate), HashMs the version's
	// normalized form and its hash; ParsePeakMB the process's peak RSS
	// after them.
	ParseMs     float64 `json:"parse_ms"`
	HashMs      float64 `json:"hash_ms"`
	ParsePeakMB float64 `json:"parse_peak_mb"`
	// SaveMs stores the version (PipelineSave), RunMs creates a run of it
	// with its task instances, on a fresh SQLite store; PeakMB is the
	// peak RSS at the end.
	SaveMs float64 `json:"save_ms"`
	RunMs  float64 `json:"run_ms"`
	PeakMB float64 `json:"peak_mb"`
}

func benchParseCmd() *cobra.Command {
	var (
		sizes  []int
		one    int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "parse",
		Short: "Measure a big pipeline: parse, validate and hash it, save it as a version and create a run",
		Long: `Write a pipeline of --tasks tasks (each depending on one before it, a
tree, about 25 bytes a task as a compact file writes them), then time,
each size in a process of its own so that its peak memory is its own:
parsing and validating it (what sluice validate and the pipelines folder
do), its normalized form and hash (the version), saving the version and
creating a run of it on a fresh SQLite store. The targets for 40,000
tasks are parse + hash <= 1 s and 100 MB peak, save + run <= 2 s.`,
		Example: "  sluice bench parse\n  sluice bench parse --tasks 1000,10000,40000 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if one > 0 {
				res, err := runParseBench(cmd.Context(), one)
				if err != nil {
					return err
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			var results []parseBenchResult
			for _, n := range sizes {
				var out bytes.Buffer
				c := exec.CommandContext(cmd.Context(), self, "bench", "parse", "--one", strconv.Itoa(n))
				c.Stdout, c.Stderr = &out, cmd.ErrOrStderr()
				if err := c.Run(); err != nil {
					return fmt.Errorf("bench parse of %d tasks: %w", n, err)
				}
				var r parseBenchResult
				if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					return fmt.Errorf("bench parse of %d tasks: %w", n, err)
				}
				results = append(results, r)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(results)
			}
			t := newTable(w, "TASKS", "EDGES", "KB", "PARSE MS", "HASH MS", "PEAK MB", "SAVE MS", "RUN MS", "PEAK MB AFTER")
			for _, r := range results {
				t.row(fmt.Sprint(r.Tasks), fmt.Sprint(r.Edges), fmt.Sprintf("%.0f", float64(r.Bytes)/1024), fmt.Sprintf("%.0f", r.ParseMs), fmt.Sprintf("%.0f", r.HashMs),
					fmt.Sprintf("%.0f", r.ParsePeakMB), fmt.Sprintf("%.0f", r.SaveMs), fmt.Sprintf("%.0f", r.RunMs), fmt.Sprintf("%.0f", r.PeakMB))
			}
			t.flush()
			return nil
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&sizes, "tasks", []int{1000, 10000, 40000}, "pipeline sizes, in tasks")
	f.BoolVar(&asJSON, "json", false, "print one JSON array")
	f.IntVar(&one, "one", 0, "measure one size in this process (how the command runs each size)")
	_ = f.MarkHidden("one")
	return cmd
}

// bigPipeline writes a pipeline of n tasks: t0, and each ti depending on
// t((i-1)/2), so the graph is a tree as wide as it is deep.
func bigPipeline(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id: big\ntasks:\n")
	for i := 0; i < n; i++ {
		if i == 0 {
			b.WriteString("  t0: {run: x}\n")
			continue
		}
		fmt.Fprintf(&b, "  t%d: {run: x, depends_on: t%d}\n", i, (i-1)/2)
	}
	return b.Bytes()
}

func runParseBench(ctx context.Context, n int) (*parseBenchResult, error) {
	src := bigPipeline(n)
	res := &parseBenchResult{Tasks: n, Edges: max(n-1, 0), Bytes: len(src)}
	runtime.GC()
	start := time.Now()
	p, err := pipeline.Parse("big.yaml", src)
	if err != nil {
		return nil, err
	}
	res.ParseMs = ms(time.Since(start))
	start = time.Now()
	_ = p.Hash()
	res.HashMs = ms(time.Since(start))
	res.ParsePeakMB = peakRSSMB()

	dir, err := os.MkdirTemp("", "sluice-bench-parse-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, dir, sqlite.Options{Holder: "sluice bench parse"})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	start = time.Now()
	if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, src, "")); err != nil {
		return nil, err
	}
	res.SaveMs = ms(time.Since(start))
	start = time.Now()
	if _, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "big", Key: "bench", Kind: store.RunManual, LogicalDate: time.Now()}); err != nil {
		return nil, err
	}
	res.RunMs = ms(time.Since(start))
	res.PeakMB = peakRSSMB()
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// peakRSSMB is the process's peak resident set (VmHWM), in MB; 0 where
// /proc does not tell.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
