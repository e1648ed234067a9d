package pipeline

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// This file reads values out of goccy/go-yaml AST nodes. Every reader knows
// the position of what it reads and reports a wrong value as an error
// instead of stopping, so Parse can collect every problem of a file.

// entry is one key of a YAML mapping and its value.
type entry struct {
	key   string
	keyAt pos
	// val is the value with anchors, aliases and tags resolved; nil when the
	// value could not be resolved (the error is already reported).
	val ast.Node
	// valAt is where the value is written, or the key's position when the
	// value is left empty ("key:" and nothing after it).
	valAt pos
}

// posOf returns where n starts. Block mappings report the position of their
// first key rather than of their first colon.
func posOf(n ast.Node) pos {
	switch v := n.(type) {
	case nil:
		return pos{1, 1}
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 && v.Values[0].Key != nil {
			return posOf(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return posOf(v.Key)
		}
	case *ast.MappingKeyNode:
		// "? key" reports the position of the "?".
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{1, 1}
	}
	return pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
}

// isImplicitNull reports whether n is the empty value of "key:".
func isImplicitNull(n ast.Node) bool {
	v, ok := n.(*ast.NullNode)
	return ok && v.Token != nil && v.Token.Type == token.ImplicitNullType
}

// collectAnchors records every anchor of the tree under n in document order.
func (p *parser) collectAnchors(n ast.Node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil && v.Name.GetToken() != nil {
			name := v.Name.GetToken().Value
			p.anchors[name] = append(p.anchors[name], anchorDef{at: posOf(v), node: v.Value})
		}
		p.collectAnchors(v.Value, depth+1)
	case *ast.TagNode:
		p.collectAnchors(v.Value, depth+1)
	case *ast.MappingNode:
		for _, kv := range v.Values {
			p.collectAnchors(kv.Key, depth+1)
			p.collectAnchors(kv.Value, depth+1)
		}
	case *ast.MappingKeyNode:
		p.collectAnchors(v.Value, depth+1)
	case *ast.MappingValueNode:
		p.collectAnchors(v.Key, depth+1)
		p.collectAnchors(v.Value, depth+1)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			p.collectAnchors(x, depth+1)
		}
	}
}

// maxDepth bounds the nesting the parser follows. Pipeline files nest a few
// levels deep; anything deeper is not a pipeline and must not exhaust the
// stack.
const maxDepth = 100

// anchorDef is one "&name" in the file.
type anchorDef struct {
	at   pos
	node ast.Node
}

// resolve returns the value n stands for: the anchored value of an anchor,
// the value an alias refers to, the value under a tag (as a string for
// !!str). It returns nil, after reporting why, when an alias refers to no
// anchor.
func (p *parser) resolve(n ast.Node) ast.Node {
	for range maxDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil && v.Value.GetToken() != nil {
				name = v.Value.GetToken().Value
			}
			at := posOf(v)
			var target ast.Node
			for _, d := range p.anchors[name] {
				if d.at.line < at.line || (d.at.line == at.line && d.at.col < at.col) {
					target = d.node
				}
			}
			if target == nil {
				p.errorf(at, fmt.Sprintf("define the anchor first, e.g. \"key: &%s value\", then refer to it as *%s", name, name),
					"alias *%s refers to no anchor defined before it", name)
				return nil
			}
			n = target
		case *ast.TagNode:
			tag := ""
			if v.Start != nil {
				tag = v.Start.Value
			}
			if (tag == "!!str" || tag == "tag:yaml.org,2002:str") && isScalar(v.Value) && v.Value.GetToken() != nil {
				if _, isString := v.Value.(*ast.StringNode); !isString {
					if _, isLiteral := v.Value.(*ast.LiteralNode); !isLiteral {
						return ast.String(v.Value.GetToken())
					}
				}
			}
			n = v.Value
		default:
			return n
		}
	}
	p.errorf(posOf(n), "", "anchors and aliases nest too deeply here")
	return nil
}

// isScalar reports whether n is a single value rather than a map or list.
func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode,
		*ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		return true
	}
	return false
}

// describe says what n is, for "want X, got Y" messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.NullNode:
		if isImplicitNull(v) {
			return "nothing"
		}
		return "null"
	case *ast.StringNode:
		return quoteShort(v.Value)
	case *ast.LiteralNode:
		if v.Value != nil {
			return quoteShort(v.Value.Value)
		}
		return `""`
	case *ast.MappingNode:
		return "a map"
	case *ast.SequenceNode:
		return "a list"
	}
	if tk := n.GetToken(); tk != nil {
		return shorten(tk.Value)
	}
	return "an unknown value"
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
func (p *parser) wrongType(at pos, label, want string, got ast.Node, hint string) {
	p.errorf(at, hint, "%s: want %s, got %s", label, want, describe(got))
}

// entries returns the keys of the mapping n in the order written. It
// reports a value that is not a mapping, keys that are not plain text and
// duplicate keys (keeping the first); dup words the duplicate-key message
// and its hint.
func (p *parser) entries(e entry, label string, dup func(key string, first pos) (msg, hint string)) ([]entry, bool) {
	m, ok := e.val.(*ast.MappingNode)
	if !ok {
		if e.val != nil {
			p.wrongType(e.valAt, label, "a map", e.val, "")
		}
		return nil, false
	}
	var out []entry
	first := map[string]pos{}
	for _, kv := range m.Values {
		if kv == nil {
			continue
		}
		key, keyAt, ok := p.key(kv.Key)
		if !ok {
			continue
		}
		if at, seen := first[key]; seen {
			msg, hint := dup(key, at)
			p.errorf(keyAt, hint, "%s", msg)
			continue
		}
		first[key] = keyAt
		val := p.resolve(kv.Value)
		valAt := posOf(kv.Value)
		if kv.Value == nil || isImplicitNull(kv.Value) {
			valAt = keyAt
			if kv.Value == nil {
				val = ast.Null(&token.Token{Type: token.ImplicitNullType, Value: "", Position: &token.Position{Line: keyAt.line, Column: keyAt.col}})
			}
		}
		out = append(out, entry{key: key, keyAt: keyAt, val: val, valAt: valAt})
	}
	return out, true
}

// key returns the text of a mapping key. Keys must be plain values: a merge
// key ("<<") or a map or list used as a key is reported.
func (p *parser) key(k ast.MapKeyNode) (string, pos, bool) {
	at := posOf(k)
	var n ast.Node = k
	if mk, ok := n.(*ast.MappingKeyNode); ok {
		n = mk.Value
	}
	if _, ok := n.(*ast.MergeKeyNode); ok {
		p.errorf(at, "put settings shared by all tasks under defaults:, or repeat them",
			"merge keys (<<) are not supported")
		return "", at, false
	}
	n = p.resolve(n)
	if n == nil {
		return "", at, false
	}
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, at, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, at, true
		}
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, at, true
	}
	p.errorf(at, "write keys as plain text, such as retries:", "a key must be plain text, not %s", describe(n))
	return "", at, false
}

// str reads a string.
func (p *parser) str(e entry, label string) (string, bool) {
	switch v := e.val.(type) {
	case nil:
		return "", false
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	}
	hint := ""
	if isScalar(e.val) && !isNull(e.val) {
		hint = fmt.Sprintf("quote it to make it text: %q", e.val.GetToken().Value)
	}
	p.wrongType(e.valAt, label, "a string", e.val, hint)
	return "", false
}

// isNull reports whether n is a null, written or implicit.
func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

// text reads a scalar as text: strings as they are, numbers and booleans as
// written ("8080", "true"). Environment values and argv items take text.
func (p *parser) text(e entry, label string) (string, bool) {
	switch v := e.val.(type) {
	case nil:
		return "", false
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	case *ast.NullNode:
		p.wrongType(e.valAt, label, "a value", e.val, `write "" for an empty value`)
		return "", false
	}
	return p.str(e, label)
}

// looksNumeric matches unquoted values that are numbers too large for the
// YAML parser, which then hands them over as strings.
var looksNumeric = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?$`)

// integer reads an integer that fits in an int.
func (p *parser) integer(e entry, label string) (int, bool) {
	switch v := e.val.(type) {
	case nil:
		return 0, false
	case *ast.IntegerNode:
		switch n := v.Value.(type) {
		case int64:
			if n >= math.MinInt && n <= math.MaxInt {
				return int(n), true
			}
		case uint64:
			if n <= math.MaxInt {
				return int(n), true
			}
		}
		p.errorf(e.valAt, "", "%s: %s is too large", label, shorten(v.GetToken().Value))
		return 0, false
	case *ast.StringNode:
		if v.Token != nil && v.Token.Type == token.StringType && looksNumeric.MatchString(v.Value) && !strings.ContainsAny(v.Value, ".eE") {
			p.errorf(e.valAt, "", "%s: %s is too large", label, shorten(v.Value))
			return 0, false
		}
	}
	p.wrongType(e.valAt, label, "an integer", e.val, "")
	return 0, false
}

// boolean reads true or false.
func (p *parser) boolean(e entry, label string) (bool, bool) {
	switch v := e.val.(type) {
	case nil:
		return false, false
	case *ast.BoolNode:
		return v.Value, true
	}
	p.wrongType(e.valAt, label, "true or false", e.val, "")
	return false, false
}

// duration reads a duration such as "30s" or "2d".
func (p *parser) duration(e entry, label string) (Duration, bool) {
	const unitHint = `write a unit, e.g. "30s", "5m", "1h"`
	switch v := e.val.(type) {
	case nil:
		return 0, false
	case *ast.IntegerNode, *ast.FloatNode:
		p.errorf(e.valAt, unitHint, "%s: %s has no unit", label, v.GetToken().Value)
		return 0, false
	case *ast.StringNode:
		d, err := ParseDuration(v.Value)
		switch {
		case err == nil:
			return d, true
		case errors.Is(err, errDurationNoUnit):
			p.errorf(e.valAt, unitHint, "%s: %s has no unit", label, quoteShort(v.Value))
		case errors.Is(err, errDurationNegative):
			p.errorf(e.valAt, "", "%s: %s is negative; durations must be 0 or more", label, quoteShort(v.Value))
		case errors.Is(err, errDurationTooLong):
			p.errorf(e.valAt, "", "%s: %s is too long; a duration can be at most about 292 years", label, quoteShort(v.Value))
		default:
			p.errorf(e.valAt, `write a number and a unit (ns, us, ms, s, m, h or d), e.g. "90s", "1h30m", "2d"`,
				"%s: %s is not a duration", label, quoteShort(v.Value))
		}
		return 0, false
	}
	p.wrongType(e.valAt, label, `a duration such as "30s"`, e.val, "")
	return 0, false
}

// list returns the items of a YAML sequence with their positions.
func (p *parser) list(e entry, label, hint string) ([]entry, bool) {
	s, ok := e.val.(*ast.SequenceNode)
	if !ok {
		if e.val != nil {
			p.wrongType(e.valAt, label, "a list", e.val, hint)
		}
		return nil, false
	}
	items := make([]entry, 0, len(s.Values))
	for _, item := range s.Values {
		it := entry{key: label, keyAt: posOf(item), val: p.resolve(item), valAt: posOf(item)}
		items = append(items, it)
	}
	return items, true
}
