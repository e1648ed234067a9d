package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/capacity"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// flagChecks are the checks of the flag values that have rules: a value a
// check refuses is a usage error (exit status 2, see usage), found before
// anything runs or any server is asked, and said the same way for every
// flag: `invalid argument "x" for "--flag" flag: ` and what it wants. The
// rules are those the rest of sluice applies, so the CLI cannot take what
// the server or the store would refuse. Flags whose type does not parse
// (a duration, a number) are usage errors already.
var flagChecks = []struct {
	cmds  []string // command paths
	flag  string
	check func(string) error
}{
	{[]string{"sluice runs list"}, "state", oneOf(sluice.RunStates...)},
	{[]string{"sluice runs list"}, "limit", intFrom(1, api.MaxRunLimit)},
	{[]string{"sluice capacity"}, "days", intFrom(1, capacity.MaxDays)},
	{[]string{"sluice capacity"}, "threshold", func(s string) error { _, err := capacity.ParseThreshold(s); return err }},
	{[]string{"sluice tokens create", "sluice users create"}, "role", oneOf(store.Roles...)},
	{[]string{"sluice tokens create"}, "expires", positiveDuration},
	{[]string{"sluice server", "sluice scheduler", "sluice worker", "sluice web", "sluice bench", "sluice doctor"}, "db", server.CheckDB},
	{[]string{"sluice server", "sluice bench"}, "sync", oneOf(sqlite.SyncModes...)},
	{[]string{"sluice server", "sluice web"}, "auth", oneOf(auth.ModePassword, auth.ModeNone)},
}

// checkFlags puts the checks of flagChecks on the flags of root's
// commands. A check whose command or flag is missing is a mistake in this
// table, found by any run of the binary.
func checkFlags(root *cobra.Command) {
	cmds := map[string]*cobra.Command{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		cmds[c.CommandPath()] = c
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, fc := range flagChecks {
		for _, path := range fc.cmds {
			c := cmds[path]
			if c == nil || c.Flags().Lookup(fc.flag) == nil {
				panic(fmt.Sprintf("flagChecks: %s has no flag --%s", path, fc.flag))
			}
			fl := c.Flags().Lookup(fc.flag)
			fl.Value = &checkedValue{Value: fl.Value, check: fc.check, list: fl.Value.Type() == "stringSlice"}
			if fl.DefValue == "[]" {
				fl.DefValue = "" // --help shows no default for an empty list
			}
		}
	}
}

// checkedValue is a flag value that check must accept before it is set;
// for a list (list), each of its comma-separated values.
type checkedValue struct {
	pflag.Value
	check func(string) error
	list  bool
}

func (c *checkedValue) Set(s string) error {
	if !c.list {
		if err := c.check(s); err != nil {
			return err
		}
		return c.Value.Set(s)
	}
	for _, v := range strings.Split(s, ",") {
		if err := c.check(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%q: %v", strings.TrimSpace(v), err)
		}
	}
	return c.Value.Set(s)
}

// oneOf accepts one of choices.
func oneOf[T ~string](choices ...T) func(string) error {
	return func(s string) error {
		if !slices.Contains(choices, T(s)) {
			names := make([]string, len(choices))
			for i, c := range choices {
				names[i] = string(c)
			}
			return fmt.Errorf("want %s", orList(names))
		}
		return nil
	}
}

// intFrom accepts a whole number from min to max.
func intFrom(min, max int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < min || n > max {
			return fmt.Errorf("want a whole number from %d to %d", min, max)
		}
		return nil
	}
}

// positiveDuration accepts a duration of more than 0, in days too
// ("30d"), as the API takes it.
func positiveDuration(s string) error {
	d, err := pipeline.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a duration of more than 0 such as 720h or 30d")
	}
	return nil
}

// orList says "a, b or c".
func orList(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}
