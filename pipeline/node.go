package pipeline

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file reads values out of YAML nodes. Every reader knows the position
// of what it reads and reports a wrong value as an error instead of
// stopping, so Parse can collect every problem of a file.

// entry is one key of a YAML mapping and its value.
type entry struct {
	key   string
	keyAt pos
	// val is the value with aliases resolved; nil when the value could not
	// be resolved (the error is already reported).
	val *yaml.Node
	// valAt is where the value is written, or the key's position when the
	// value is left empty ("key:" and nothing after it).
	valAt pos
}

// at is e without its value: what a check made after the walk needs (the
// key and the positions), which does not keep the file's YAML tree in
// memory.
func (e entry) at() entry { return entry{key: e.key, keyAt: e.keyAt, valAt: e.valAt} }

// posOf returns where n starts.
func posOf(n *yaml.Node) pos {
	if n == nil {
		return pos{1, 1}
	}
	return pos{max(n.Line, 1), max(n.Column, 1)}
}

// kind is what a YAML node holds, after tags and aliases.
type kind int

const (
	kindNone kind = iota
	kindMap
	kindList
	kindString
	kindInt
	kindFloat
	kindBool
	kindNull
	kindMerge
)

// kindOf says what n holds. A scalar with a tag sluice does not know
// (!custom 12) is read as if it had none; dates and binary are text.
func kindOf(n *yaml.Node) kind {
	if n == nil {
		return kindNone
	}
	switch n.Kind {
	case yaml.MappingNode:
		return kindMap
	case yaml.SequenceNode:
		return kindList
	case yaml.ScalarNode:
	default:
		return kindNone
	}
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp", "!!binary":
		return kindString
	case "!!int":
		return kindInt
	case "!!float":
		return kindFloat
	case "!!bool":
		return kindBool
	case "!!null":
		return kindNull
	case "!!merge":
		return kindMerge
	}
	plain := yaml.Node{Kind: yaml.ScalarNode, Value: n.Value, Style: n.Style &^ yaml.TaggedStyle}
	if k := kindOf(&plain); k != kindNone {
		return k
	}
	return kindString
}

// isImplicitNull reports whether n is the empty value of "key:".
func isImplicitNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Style == 0 && n.Value == "" && n.ShortTag() == "!!null"
}

// intValue reads an integer scalar as YAML writes it (0x10, 0o17, 1_000);
// ok is false when it does not fit in an int64.
func intValue(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 0, 64)
	return n, err == nil
}

// floatValue reads a float scalar, including YAML's .inf and .nan.
func floatValue(s string) float64 {
	switch strings.ToLower(strings.TrimLeft(s, "+")) {
	case ".inf":
		return math.Inf(1)
	case "-.inf":
		return math.Inf(-1)
	case ".nan":
		return math.NaN()
	}
	f, _ := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	return f
}

// tooLargeInt reports whether n is a whole number written without a point
// or exponent that YAML read as a float because it does not fit in 64 bits.
func tooLargeInt(n *yaml.Node) bool {
	return kindOf(n) == kindFloat && looksNumeric.MatchString(n.Value) && !strings.ContainsAny(n.Value, ".eE")
}

// resolve returns the value n stands for: the anchored value of an alias.
// The YAML reader has already checked that every alias refers to an
// anchor defined before it, and an anchored value is never an alias.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// isScalar reports whether n is a single value rather than a map or list.
func isScalar(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode
}

// describe says what n is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch kindOf(n) {
	case kindNone:
		return "nothing"
	case kindNull:
		if isImplicitNull(n) {
			return "nothing"
		}
		return "null"
	case kindString:
		return quoteShort(n.Value)
	case kindMap:
		return "a map"
	case kindList:
		return "a list"
	}
	return shorten(n.Value)
}

// quoteShort quotes s, cutting it short when it is long.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return fmt.Sprintf("%q…", string([]rune(s)[:40]))
	}
	return fmt.Sprintf("%q", s)
}

// shorten cuts s short when it is long.
func shorten(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// wrongType reports that the value of label is not the kind it must be.
func (p *parser) wrongType(at pos, label, want string, got *yaml.Node, hint string) {
	p.errorf(at, hint, "%s: want %s, got %s", label, want, describe(got))
}

// entries returns the keys of the mapping n in the order written. It
// reports a value that is not a mapping, keys that are not plain text and
// duplicate keys (keeping the first); dup words the duplicate-key message
// and its hint.
func (p *parser) entries(e entry, label string, dup func(key string, first pos) (msg, hint string)) ([]entry, bool) {
	if kindOf(e.val) != kindMap {
		if e.val != nil {
			p.wrongType(e.valAt, label, "a map", e.val, "")
		}
		return nil, false
	}
	return p.mapEntries(e.val.Content, make(map[string]pos, len(e.val.Content)/2), dup), true
}

// mapEntries returns the entries of a mapping's key and value nodes, kvs,
// as entries does. first holds where each key was seen first, and is
// filled in: a map read in pieces passes the same one for every piece.
func (p *parser) mapEntries(kvs []*yaml.Node, first map[string]pos, dup func(key string, first pos) (msg, hint string)) []entry {
	out := make([]entry, 0, len(kvs)/2)
	for i := 0; i+1 < len(kvs); i += 2 {
		key, keyAt, ok := p.key(kvs[i])
		if !ok {
			continue
		}
		if at, seen := first[key]; seen {
			msg, hint := dup(key, at)
			p.errorf(keyAt, hint, "%s", msg)
			continue
		}
		first[key] = keyAt
		raw := kvs[i+1]
		valAt := posOf(raw)
		if isImplicitNull(raw) {
			valAt = keyAt
		}
		out = append(out, entry{key: key, keyAt: keyAt, val: p.resolve(raw), valAt: valAt})
	}
	return out
}

// key returns the text of a mapping key. Keys must be plain values: a merge
// key ("<<") or a map or list used as a key is reported.
func (p *parser) key(k *yaml.Node) (string, pos, bool) {
	at := posOf(k)
	if kindOf(k) == kindMerge {
		p.errorf(at, "put settings shared by all tasks under defaults:, or repeat them",
			"merge keys (<<) are not supported")
		return "", at, false
	}
	n := p.resolve(k)
	switch kindOf(n) {
	case kindNone:
		return "", at, false
	case kindString, kindInt, kindFloat, kindBool:
		return n.Value, at, true
	}
	p.errorf(at, "write keys as plain text, such as retries:", "a key must be plain text, not %s", describe(n))
	return "", at, false
}

// str reads a string.
func (p *parser) str(e entry, label string) (string, bool) {
	switch kindOf(e.val) {
	case kindNone:
		return "", false
	case kindString:
		return e.val.Value, true
	}
	p.wrongType(e.valAt, label, "a string", e.val, quoteHint(e.val))
	return "", false
}

// quoteHint suggests quoting a value YAML read as a number, bool or the
// like where text is wanted.
func quoteHint(n *yaml.Node) string {
	if isScalar(n) && !isNull(n) {
		return fmt.Sprintf("quote it to make it text: %q", n.Value)
	}
	return ""
}

// isNull reports whether n is a null, written or implicit.
func isNull(n *yaml.Node) bool {
	return kindOf(n) == kindNull
}

// text reads a scalar as text: strings as they are, numbers and booleans as
// written ("8080", "true"). Environment values and argv items take text.
func (p *parser) text(e entry, label string) (string, bool) {
	switch kindOf(e.val) {
	case kindNone:
		return "", false
	case kindInt, kindFloat, kindBool:
		return e.val.Value, true
	case kindNull:
		p.wrongType(e.valAt, label, "a value", e.val, `write "" for an empty value`)
		return "", false
	}
	return p.str(e, label)
}

// looksNumeric matches unquoted values that are whole or decimal numbers.
var looksNumeric = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?$`)

// integer reads an integer that fits in an int.
func (p *parser) integer(e entry, label string) (int, bool) {
	switch kindOf(e.val) {
	case kindNone:
		return 0, false
	case kindInt:
		if n, ok := intValue(e.val.Value); ok && n >= math.MinInt && n <= math.MaxInt {
			return int(n), true
		}
		p.errorf(e.valAt, "", "%s: %s is too large", label, shorten(e.val.Value))
		return 0, false
	}
	if tooLargeInt(e.val) {
		p.errorf(e.valAt, "", "%s: %s is too large", label, shorten(e.val.Value))
		return 0, false
	}
	p.wrongType(e.valAt, label, "an integer", e.val, "")
	return 0, false
}

// boolean reads true or false.
func (p *parser) boolean(e entry, label string) (bool, bool) {
	switch kindOf(e.val) {
	case kindNone:
		return false, false
	case kindBool:
		return boolValue(e.val.Value), true
	}
	p.wrongType(e.valAt, label, "true or false", e.val, "")
	return false, false
}

// boolValue reads a scalar YAML resolved as a bool.
func boolValue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true
	}
	return false
}

// duration reads a duration such as "30s" or "2d".
func (p *parser) duration(e entry, label string) (Duration, bool) {
	const unitHint = `write a unit, e.g. "30s", "5m", "1h"`
	switch kindOf(e.val) {
	case kindNone:
		return 0, false
	case kindInt, kindFloat:
		p.errorf(e.valAt, unitHint, "%s: %s has no unit", label, e.val.Value)
		return 0, false
	case kindString:
		v := e.val.Value
		d, err := ParseDuration(v)
		switch {
		case err == nil:
			return d, true
		case errors.Is(err, errDurationNoUnit):
			p.errorf(e.valAt, unitHint, "%s: %s has no unit", label, quoteShort(v))
		case errors.Is(err, errDurationNegative):
			p.errorf(e.valAt, "", "%s: %s is negative; durations must be 0 or more", label, quoteShort(v))
		case errors.Is(err, errDurationTooLong):
			p.errorf(e.valAt, "", "%s: %s is too long; a duration can be at most about 292 years", label, quoteShort(v))
		default:
			p.errorf(e.valAt, `write a number and a unit (ns, us, ms, s, m, h or d), e.g. "90s", "1h30m", "2d"`,
				"%s: %s is not a duration", label, quoteShort(v))
		}
		return 0, false
	}
	p.wrongType(e.valAt, label, `a duration such as "30s"`, e.val, "")
	return 0, false
}

// list returns the items of a YAML sequence with their positions.
func (p *parser) list(e entry, label, hint string) ([]entry, bool) {
	if kindOf(e.val) != kindList {
		if e.val != nil {
			p.wrongType(e.valAt, label, "a list", e.val, hint)
		}
		return nil, false
	}
	items := make([]entry, 0, len(e.val.Content))
	for _, item := range e.val.Content {
		at := posOf(item)
		items = append(items, entry{key: label, keyAt: at, val: p.resolve(item), valAt: at})
	}
	return items, true
}
