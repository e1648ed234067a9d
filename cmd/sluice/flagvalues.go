package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/sluice-dev/sluice/pipeline"
)

// Flag values that check themselves. A value a flag refuses is a usage
// error (exit status 2, see usage), found before anything runs or any
// server is asked, and said the same way for every flag: cobra and pflag
// print `invalid argument "x" for "--flag" flag: ` and the reason.

// choice is a string flag that takes one of a fixed list of values.
type choice struct {
	value   *string
	choices []string
}

// choiceVar defines a flag that takes one of choices.
func choiceVar[T ~string](f *pflag.FlagSet, p *string, name, value, usage string, choices ...T) {
	*p = value
	f.Var(&choice{value: p, choices: strs(choices)}, name, usage)
}

func (c *choice) Set(s string) error {
	if !slices.Contains(c.choices, s) {
		return fmt.Errorf("want %s", orList(c.choices))
	}
	*c.value = s
	return nil
}

func (c *choice) String() string { return *c.value }
func (c *choice) Type() string   { return "string" }

// choices is a list flag whose values each come from a fixed list;
// repeat it or separate values with commas.
type choices struct {
	value   *[]string
	choices []string
	changed bool
}

// choicesVar defines a list flag of values from choices.
func choicesVar[T ~string](f *pflag.FlagSet, p *[]string, name, usage string, choices_ ...T) {
	f.Var(&choices{value: p, choices: strs(choices_)}, name, usage)
}

func (c *choices) Set(s string) error {
	var got []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if !slices.Contains(c.choices, v) {
			return fmt.Errorf("%q: want %s", v, orList(c.choices))
		}
		got = append(got, v)
	}
	if !c.changed {
		*c.value, c.changed = nil, true
	}
	*c.value = append(*c.value, got...)
	return nil
}

func (c *choices) String() string { return listString(*c.value) }
func (c *choices) Type() string   { return "strings" }

// intRange is an integer flag with bounds.
type intRange struct {
	value    *int
	min, max int
}

// intRangeVar defines an integer flag from min to max, both included.
func intRangeVar(f *pflag.FlagSet, p *int, name string, value, min, max int, usage string) {
	*p = value
	f.Var(&intRange{value: p, min: min, max: max}, name, usage)
}

func (r *intRange) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < r.min || n > r.max {
		return fmt.Errorf("want a whole number from %d to %d", r.min, r.max)
	}
	*r.value = n
	return nil
}

func (r *intRange) String() string { return strconv.Itoa(*r.value) }
func (r *intRange) Type() string   { return "int" }

// checked is a string flag whose value check accepts; repeated, when
// list is set, each value is kept.
type checked struct {
	value *string
	list  *[]string
	check func(string) error
}

// checkedVar defines a string flag whose value check accepts.
func checkedVar(f *pflag.FlagSet, p *string, name, value, usage string, check func(string) error) {
	*p = value
	f.Var(&checked{value: p, check: check}, name, usage)
}

// checkedArrayVar defines a repeatable flag whose every value check
// accepts.
func checkedArrayVar(f *pflag.FlagSet, p *[]string, name, usage string, check func(string) error) {
	f.Var(&checked{list: p, check: check}, name, usage)
}

func (c *checked) Set(s string) error {
	if err := c.check(s); err != nil {
		return err
	}
	if c.list != nil {
		*c.list = append(*c.list, s)
	} else {
		*c.value = s
	}
	return nil
}

func (c *checked) String() string {
	if c.list != nil {
		return listString(*c.list)
	}
	return *c.value
}

func (c *checked) Type() string {
	if c.list != nil {
		return "stringArray"
	}
	return "string"
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

// listString shows a list flag's values; empty for none, so --help shows
// no default.
func listString(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return "[" + strings.Join(vs, ",") + "]"
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// orList says "a, b or c".
func orList(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}
