// Command sluice is the workflow orchestrator's one binary: the server and
// its roles, the terminal runner, the validator and the benchmark.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sluice-dev/sluice"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

var (
	logLevel  string
	logFormat string
)

func main() {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "sluice runs pipelines of tasks on a schedule, retries what fails, and shows what happened",
		Long: `sluice is a workflow orchestrator for data pipelines: YAML files of tasks
with dependencies and schedules. One binary runs everything on one machine
with an embedded database; the same binary scales out on PostgreSQL.

Start here:
  sluice server --pipelines examples    run the scheduler, workers and HTTP server
  sluice run examples/hello.yaml        run one pipeline now, in this terminal
  sluice validate examples              check pipeline files

Every flag can also be set with an environment variable SLUICE_<FLAG>,
e.g. SLUICE_HOME=/var/lib/sluice or SLUICE_CONCURRENCY=32.

Exit status: 0 when the command did its work, 1 when it failed (a run
failed, the server refused), 2 for a usage error (an unknown command or
flag, a flag value it does not take, the wrong arguments).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return exitWith(2, err)
			}
			return setupLogging(os.Stderr)
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "auto", "log format: text, json, or auto (text on a terminal, json otherwise)")
	root.AddCommand(roleCmds()...)
	root.AddCommand(runCmd(), validateCmd(), doctorCmd(), benchCmd(), versionCmd())
	root.AddCommand(clientCmds()...)
	for _, c := range root.Commands() {
		documentEnv(c.Flags())
	}
	documentEnv(root.PersistentFlags())
	checkFlags(root)
	usage(root)

	err := root.Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "sluice:", err)
	if strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "unknown flag") {
		fmt.Fprintln(os.Stderr, "Run 'sluice --help' for usage.")
		os.Exit(2)
	}
	os.Exit(1)
}

// usage makes every mistake on the command line of c and its subcommands
// a usage error, exit status 2 with a pointer to --help: an unknown flag,
// a flag value its flag refuses (see flagChecks) or the wrong number of
// arguments. Other failures exit 1.
func usage(c *cobra.Command) {
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(cmd, err) })
	if c.Args != nil {
		c.Args = usageArgs(c.Args)
	}
	for _, sub := range c.Commands() {
		usage(sub)
	}
}

// usageError is err as a usage error of cmd.
func usageError(cmd *cobra.Command, err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return exitWith(2, fmt.Errorf("%v\nRun '%s --help' for usage.", err, cmd.CommandPath()))
}

// envName is the environment variable of a flag: SLUICE_ and the flag
// name upper-cased with dashes as underscores.
func envName(flag string) string {
	return "SLUICE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, if set.
func applyEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Annotations[noEnvAnnotation] != nil {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", envName(f.Name), v, err))
		}
	})
	return errors.Join(errs...)
}

// noEnvAnnotation marks a flag that is never read from the environment.
const noEnvAnnotation = "sluice_no_env"

// commandLineOnly makes flags of cmd ignore their environment variables:
// SLUICE_PIPELINE and SLUICE_ATTEMPT are also the run context sluice gives
// every task, and a task that runs 'sluice runs list' must not find the
// runs filtered by its own pipeline.
func commandLineOnly(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		_ = cmd.Flags().SetAnnotation(n, noEnvAnnotation, []string{"true"})
	}
}

// documentEnv adds each flag's environment variable to its help text.
func documentEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || strings.Contains(f.Usage, "$SLUICE_") || f.Annotations[noEnvAnnotation] != nil {
			return
		}
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}

func setupLogging(w io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return exitWith(2, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel))
	}
	opts := &slog.HandlerOptions{Level: level}
	format := logFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	switch format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, opts)))
	default:
		return exitWith(2, fmt.Errorf("--log-format %q: want text, json or auto", logFormat))
	}
	return nil
}

// signals returns a context cancelled by the first SIGINT or SIGTERM and a
// channel that receives the second.
func signals() (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	kill := make(chan struct{})
	go func() {
		<-ch
		slog.Info("signal received: draining; send it again to stop at once")
		cancel()
		<-ch
		close(kill)
	}()
	return ctx, kill, func() { signal.Stop(ch); cancel() }
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of sluice",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "sluice", sluice.Version())
		},
	}
}

// positive checks that the named flags (numbers or durations) are more
// than zero. The packages they configure take zero for their default, so
// a 0 a user typed would silently become, say, ten seconds.
func positive(f *pflag.FlagSet, names ...string) error {
	for _, name := range names {
		fl := f.Lookup(name)
		if fl == nil {
			continue
		}
		v := fl.Value.String()
		var ok bool
		switch fl.Value.Type() {
		case "duration":
			d, err := time.ParseDuration(v)
			ok = err == nil && d > 0
		case "int":
			n, err := strconv.Atoi(v)
			ok = err == nil && n > 0
		default:
			panic("positive: flag --" + name + " is a " + fl.Value.Type())
		}
		if !ok {
			from := ""
			if fl.Annotations[noEnvAnnotation] == nil {
				from = " (flag or $" + envName(name) + ")"
			}
			return exitWith(2, fmt.Errorf("invalid --%s %s%s: it must be more than 0", name, v, from))
		}
	}
	return nil
}

// count says "1 task" or "3 tasks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
