package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
)

// BindParams checks the params a trigger gives against the params p
// declares, and returns the value of every declared param that has one,
// typed by its param: int64, float64, bool, or string (string and enum).
//
// A given value may be typed (string, bool, float64, json.Number, or any Go
// integer or float, as decoded from JSON) or a string, as from the command
// line ("-p count=3"), which is converted by the param's type: "3" for an
// int, "0.5" for a float, "true" for a bool. A float param takes integers
// too; an int param takes a float only if it is whole. A nil value counts
// as not given. Params that are not given take their Default.
//
// Every problem is reported at once, in a *sluice.Error with code EINVALID
// whose message names each param and what is wrong with it, and whose
// Details is a map from param name to that problem.
func (p *Pipeline) BindParams(given map[string]any) (map[string]any, error) {
	out := map[string]any{}
	problems := map[string]string{}
	for name, v := range given {
		prm, ok := p.Params[name]
		if !ok {
			names := make([]string, 0, len(p.Params))
			for n := range p.Params {
				names = append(names, n)
			}
			msg := "no such param"
			if len(names) == 0 {
				msg += fmt.Sprintf("; pipeline %q takes no params", p.ID)
			} else if s := suggest(name, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; the params are " + strings.Join(sorted(names), ", ")
			}
			problems[name] = msg
			continue
		}
		if v == nil {
			continue
		}
		bound, err := prm.bind(v)
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		out[name] = bound
	}
	for name, prm := range p.Params {
		if _, ok := out[name]; ok {
			continue
		}
		if _, bad := problems[name]; bad {
			continue
		}
		switch {
		case prm.Default != nil:
			out[name] = prm.Default
		case prm.Required:
			problems[name] = "missing: it is required and has no default"
		}
	}
	if len(problems) == 0 {
		return out, nil
	}
	return nil, ParamsError("invalid params", problems)
}

// ParamsError is the EINVALID error for the problem of each param, keyed
// by name: its message lists them in order after what, its details hold
// the map.
func ParamsError(what string, problems map[string]string) error {
	names := make([]string, 0, len(problems))
	for n := range problems {
		names = append(names, n)
	}
	sort.Strings(names)
	msgs := make([]string, len(names))
	for i, n := range names {
		msgs[i] = fmt.Sprintf("param %q: %s", n, problems[n])
	}
	return &sluice.Error{Code: sluice.EINVALID, Message: what + ": " + strings.Join(msgs, "; "), Details: problems}
}

// bind converts v to the type of prm.
func (prm *Param) bind(v any) (any, error) {
	switch prm.Type {
	case ParamString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, wantGot("a string", v)
	case ParamEnum:
		s, ok := v.(string)
		if !ok {
			return nil, wantGot("one of "+strings.Join(prm.Values, ", "), v)
		}
		for _, allowed := range prm.Values {
			if s == allowed {
				return s, nil
			}
		}
		return nil, wantGot("one of "+strings.Join(prm.Values, ", "), v)
	case ParamBool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if r, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return r, nil
			}
		}
		return nil, wantGot("true or false", v)
	case ParamInt:
		if n, ok := toInt(v); ok {
			return n, nil
		}
		return nil, wantGot("an int", v)
	case ParamFloat:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		return nil, wantGot("a number", v)
	case ParamList:
		return prm.bindList(v)
	case ParamObject:
		return prm.bindJSON(v, true)
	case ParamJSON:
		return prm.bindJSON(v, false)
	}
	return nil, fmt.Errorf("the param has an unknown type %q", prm.Type)
}

// wantGot words a type mismatch.
func wantGot(want string, got any) error {
	if s, ok := got.(string); ok {
		return fmt.Errorf("want %s, got %s", want, quoteShort(s))
	}
	return fmt.Errorf("want %s, got %s", want, shorten(fmt.Sprint(got)))
}

// toInt converts integers, whole floats and integer text to int64.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return uintToInt(uint64(n))
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return uintToInt(n)
	case float32:
		return floatToInt(float64(n))
	case float64:
		return floatToInt(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		if f, err := n.Float64(); err == nil {
			return floatToInt(f)
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

func uintToInt(n uint64) (int64, bool) {
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// floatToInt converts a whole float in the int64 range.
func floatToInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// toFloat converts numbers and number text to a finite float64.
func toFloat(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
			return 0, false
		}
	default:
		i, ok := toInt(v)
		if !ok {
			return 0, false
		}
		f = float64(i)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
