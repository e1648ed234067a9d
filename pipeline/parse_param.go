package pipeline

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// paramName is what a param name looks like: it must be usable in the
// environment variable SLUICE_PARAM_<NAME>.
var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var (
	paramKeys  = []string{"type", "description", "default", "required", "values", "items"}
	paramTypes = []string{"string", "int", "float", "bool", "enum", "list", "object", "json"}
)

// params walks the params: map.
func (p *parser) params(e entry) map[string]*Param {
	ents, _ := p.entries(e, "params", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate param %q (first defined at line %d)", key, first.line), "remove one of them"
	})
	if len(ents) == 0 {
		return nil
	}
	params := make(map[string]*Param, len(ents))
	for _, e := range ents {
		if !paramName.MatchString(e.key) {
			p.errorf(e.keyAt, "use letters, digits and _, not starting with a digit", "param name %s is not valid", quoteShort(e.key))
		}
		params[e.key] = p.param(e)
		if p.paramAt == nil {
			p.paramAt = map[string]pos{}
		}
		p.paramAt[e.key] = e.keyAt
	}
	return params
}

// param walks one param.
func (p *parser) param(e entry) *Param {
	prm := &Param{}
	where := fmt.Sprintf("param %s", quoteShort(e.key))
	if kindOf(e.val) != kindMap && e.val != nil {
		p.wrongType(e.valAt, where, "a map", e.val, fmt.Sprintf("write it as %s: {type: string}", e.key))
		return prm
	}
	ents, _ := p.entries(e, where, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
	})
	var def, vals, items *entry
	typeOK := false
	for _, e := range ents {
		switch e.key {
		case "type":
			if s, ok := p.str(e, where+": type"); ok {
				if strings.Contains(" "+strings.Join(paramTypes, " ")+" ", " "+s+" ") {
					prm.Type, typeOK = ParamType(s), true
				} else {
					p.errorf(e.valAt, didYouMean(s, paramTypes, "use one of "+strings.Join(paramTypes, ", ")),
						"%s: unknown type %s", where, quoteShort(s))
				}
			}
		case "description":
			prm.Description, _ = p.str(e, where+": description")
		case "required":
			prm.Required, _ = p.boolean(e, where+": required")
		case "default":
			def = &e
		case "values":
			vals = &e
		case "items":
			items = &e
		default:
			p.errorf(e.keyAt, didYouMean(e.key, paramKeys, "the keys of a param are "+strings.Join(paramKeys, ", ")),
				"unknown key %s in %s", quoteShort(e.key), where)
		}
	}
	if !hasKey(ents, "type") {
		p.errorf(e.keyAt, "add type: string, int, float, bool, enum, list, object or json", "%s: missing type", where)
	}
	if vals != nil {
		if typeOK && prm.Type != ParamEnum {
			p.errorf(vals.keyAt, "set type: enum, or remove values:", "%s: values: is only for enum params", where)
		} else {
			prm.Values = p.enumValues(*vals, where)
		}
	} else if prm.Type == ParamEnum {
		p.errorf(e.keyAt, "list the allowed values, e.g. values: [eu, us]", "%s: an enum needs values:", where)
	}
	if items != nil {
		if typeOK && prm.Type != ParamList {
			p.errorf(items.keyAt, "set type: list, or remove items:", "%s: items: is only for list params", where)
		} else if s, ok := p.str(*items, where+": items"); ok {
			if strings.Contains(" "+strings.Join(listItemTypes, " ")+" ", " "+s+" ") {
				prm.Items = ParamType(s)
				if prm.Items == ParamString {
					prm.Items = "" // the default, written the one way
				}
			} else {
				p.errorf(items.valAt, didYouMean(s, listItemTypes, "use one of "+strings.Join(listItemTypes, ", ")), "%s: items: unknown type %s", where, quoteShort(s))
			}
		}
	}
	if def != nil && typeOK {
		switch prm.Type {
		case ParamList, ParamObject, ParamJSON:
			prm.Default = p.structuredDefault(*def, where, prm)
		default:
			prm.Default = p.paramDefault(*def, where, prm)
		}
	}
	return prm
}

// hasKey reports whether ents has the key.
func hasKey(ents []entry, key string) bool {
	for _, e := range ents {
		if e.key == key {
			return true
		}
	}
	return false
}

// enumValues reads the values of an enum: a non-empty list of distinct
// strings.
func (p *parser) enumValues(e entry, where string) []string {
	items, ok := p.list(e, where+": values", "list the allowed values, e.g. values: [eu, us]")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(e.valAt, "list the allowed values, e.g. values: [eu, us]", "%s: values is empty", where)
		return nil
	}
	var vals []string
	seen := map[string]bool{}
	for _, it := range items {
		s, ok := p.str(it, where+": values")
		if !ok {
			continue
		}
		if seen[s] {
			p.errorf(it.valAt, "remove the repeated value", "%s: value %s is listed twice", where, quoteShort(s))
			continue
		}
		seen[s] = true
		vals = append(vals, s)
	}
	return vals
}

// paramDefault reads the default of a param, which must have its type: a
// string, int64, float64 or bool, or for an enum one of its values.
func (p *parser) paramDefault(e entry, where string, prm *Param) any {
	bad := func(want, hint string) any {
		p.errorf(e.valAt, hint, "%s: default %s is not %s", where, describe(e.val), want)
		return nil
	}
	switch prm.Type {
	case ParamString:
		if kindOf(e.val) == kindString {
			return e.val.Value
		}
		return bad("a string", quoteHint(e.val))
	case ParamInt:
		if kindOf(e.val) == kindInt || tooLargeInt(e.val) {
			if n, ok := intValue(e.val.Value); ok && kindOf(e.val) == kindInt {
				return n
			}
			p.errorf(e.valAt, "", "%s: default %s is too large", where, shorten(e.val.Value))
			return nil
		}
		return bad("an int", "write a whole number such as 3, without quotes")
	case ParamFloat:
		switch kindOf(e.val) {
		case kindInt:
			if n, ok := intValue(e.val.Value); ok {
				return float64(n)
			}
			return floatValue(e.val.Value)
		case kindFloat:
			f := floatValue(e.val.Value)
			switch {
			case math.IsInf(f, 0) || math.IsNaN(f):
				return bad("a finite number", "")
			case f == 0:
				return 0.0 // and not -0, which would print differently
			}
			return f
		}
		return bad("a float", "write a number such as 0.5, without quotes")
	case ParamBool:
		if kindOf(e.val) == kindBool {
			return boolValue(e.val.Value)
		}
		return bad("a bool", "write true or false, without quotes")
	case ParamEnum:
		if kindOf(e.val) != kindString {
			return bad("a string", "")
		}
		s := e.val
		for _, v := range prm.Values {
			if v == s.Value {
				return s.Value
			}
		}
		if prm.Values != nil {
			p.errorf(e.valAt, didYouMean(s.Value, prm.Values, "add it to values:, or pick one of them"),
				"%s: default %s is not one of the values %s", where, quoteShort(s.Value), strings.Join(prm.Values, ", "))
		}
	}
	return nil
}
