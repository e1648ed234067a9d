package k8sapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MergePod lays patch (a Pod, as JSON) over template (a pod_template, as
// JSON) as the strategic merge patch of k8s.io/apimachinery's
// strategicpatch does for a Pod: maps merge key by key, a null deletes,
// and the lists the Pod API marks patchStrategy "merge" merge their items
// by patchMergeKey (containers by name, their env by name, volumeMounts
// by mountPath, …; see patchMetas) while other lists are replaced. The
// code follows strategicpatch's (mergeMap, mergeSlice and the order it
// gives merged lists), without its $patch directives, which neither a
// template nor sluice's Pod contains. TestMergePodMatchesStrategicPatch
// compares the two.
func MergePod(template, patch []byte) (map[string]any, error) {
	original, err := decodeObject(template)
	if err != nil {
		return nil, err
	}
	p, err := decodeObject(patch)
	if err != nil {
		return nil, err
	}
	return mergeMap(original, p, "")
}

// decodeObject decodes a JSON object, keeping numbers as written.
func decodeObject(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// patchMeta is the patch strategy of the field at path (JSON names from
// the Pod down, dot-separated; a list's items and a map's values add no
// name).
type patchMeta struct {
	path, strategy, mergeKey string
}

func lookupPatchMeta(path string) patchMeta {
	i := sort.Search(len(patchMetas), func(i int) bool { return patchMetas[i].path >= path })
	if i < len(patchMetas) && patchMetas[i].path == path {
		return patchMetas[i]
	}
	return patchMeta{path: path}
}

// strategy is the strategy that applies to the field itself: retainKeys
// says how to clear fields, which only a $retainKeys directive asks for.
func (m patchMeta) strategy1() string {
	for _, s := range strings.Split(m.strategy, ",") {
		if s != "retainKeys" {
			return s
		}
	}
	return ""
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func mergeMap(original, patch map[string]any, path string) (map[string]any, error) {
	if original == nil {
		original = map[string]any{}
	}
	for k, patchV := range patch {
		if strings.HasPrefix(k, "$") {
			return nil, fmt.Errorf("the patch directive %s is not supported", k)
		}
		if patchV == nil {
			delete(original, k)
			continue
		}
		origV, ok := original[k]
		if !ok || fmt.Sprintf("%T", origV) != fmt.Sprintf("%T", patchV) {
			discardNulls(patchV)
			original[k] = patchV
			continue
		}
		meta := lookupPatchMeta(join(path, k))
		var err error
		switch pv := patchV.(type) {
		case map[string]any:
			if meta.strategy1() == "replace" {
				original[k] = pv
				continue
			}
			original[k], err = mergeMap(origV.(map[string]any), pv, join(path, k))
		case []any:
			if meta.strategy1() == "merge" {
				original[k], err = mergeSlice(origV.([]any), pv, join(path, k), meta.mergeKey)
			} else {
				original[k] = pv
			}
		default:
			original[k] = pv
		}
		if err != nil {
			return nil, err
		}
	}
	return original, nil
}

func discardNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				discardNulls(e)
			}
		}
	case []any:
		for _, e := range v {
			discardNulls(e)
		}
	}
}

// elemKind is what a list's items are: "map", "scalar", or "" for none.
func elemKind(lists ...[]any) (string, error) {
	kind, typ := "", ""
	for _, l := range lists {
		for _, v := range l {
			t := fmt.Sprintf("%T", v)
			if typ == "" {
				typ = t
				if _, ok := v.([]any); ok {
					return "", errors.New("lists of lists are not supported")
				}
				kind = "scalar"
				if _, ok := v.(map[string]any); ok {
					kind = "map"
				}
			} else if typ != t {
				return "", fmt.Errorf("list element types are not identical: %v", lists)
			}
		}
	}
	if typ == "" {
		return "", errors.New("no elements in any of the given slices")
	}
	return kind, nil
}

func mergeSlice(original, patch []any, path, mergeKey string) ([]any, error) {
	if len(original) == 0 && len(patch) == 0 {
		return original, nil
	}
	kind, err := elemKind(original, patch)
	if err != nil {
		return nil, err
	}
	var merged []any
	if kind != "map" {
		merged = dedupScalars(append(original, patch...))
	} else {
		if mergeKey == "" {
			return nil, fmt.Errorf("cannot merge lists without merge key for %s", path)
		}
		merged = original
		for _, v := range patch {
			pm := v.(map[string]any)
			key, ok := pm[mergeKey]
			if !ok {
				return nil, fmt.Errorf("map: %v does not contain declared merge key: %s", pm, mergeKey)
			}
			if i := indexByKey(merged, mergeKey, key); i >= 0 {
				m, err := mergeMap(merged[i].(map[string]any), pm, path)
				if err != nil {
					return nil, err
				}
				merged[i] = m
			} else {
				merged = append(merged, v)
			}
		}
		// merged shares original's first items, which were merged in
		// place, as in strategicpatch; the order below reads only keys.
	}
	// The order: patch items in the patch's order, the others in the
	// original's, interleaved by the original's order.
	var inPatch, serverOnly []any
	for _, v := range merged {
		found := false
		if kind == "map" {
			m := v.(map[string]any)
			key, ok := m[mergeKey]
			if !ok {
				return nil, fmt.Errorf("map: %v does not contain declared merge key: %s", m, mergeKey)
			}
			found = indexByKey(patch, mergeKey, key) >= 0
		} else {
			for _, p := range patch {
				if p == v {
					found = true
					break
				}
			}
		}
		if found {
			inPatch = append(inPatch, v)
		} else {
			serverOnly = append(serverOnly, v)
		}
	}
	if kind == "map" {
		for _, l := range [][]any{inPatch, patch, serverOnly, original} {
			for _, v := range l {
				if _, ok := v.(map[string]any)[mergeKey]; !ok {
					return nil, fmt.Errorf("map: %v does not contain declared merge key: %s", v, mergeKey)
				}
			}
		}
	}
	inPatch = sortByOrder(inPatch, patch, mergeKey, kind)
	serverOnly = sortByOrder(serverOnly, original, mergeKey, kind)
	return mergeSorted(serverOnly, inPatch, original, mergeKey, kind), nil
}

func indexByKey(l []any, mergeKey string, key any) int {
	for i, v := range l {
		if m, ok := v.(map[string]any); ok {
			if k, ok := m[mergeKey]; ok && k == key {
				return i
			}
		}
	}
	return -1
}

// dedupScalars is strategicpatch's deduplicateScalars, order and all.
func dedupScalars(s []any) []any {
	length := len(s) - 1
	for i := 0; i < length; i++ {
		for j := i + 1; j <= length; j++ {
			if s[i] == s[j] {
				s[j] = s[length]
				s = s[0:length]
				length--
				j--
			}
		}
	}
	return s
}

// index is strategicpatch's: where v is in l, by merge key for maps.
func index(l []any, v any, mergeKey, kind string) int {
	get := func(x any) any { return x }
	if kind == "map" {
		get = func(x any) any {
			m, ok := x.(map[string]any)
			if !ok {
				return nil
			}
			return m[mergeKey]
		}
	}
	for i, e := range l {
		if get(v) == get(e) {
			return i
		}
	}
	return -1
}

// sortByOrder is strategicpatch's normalizeSliceOrder, whose comparison
// is kept as it is (not a strict order) so that the results agree.
func sortByOrder(toSort, order []any, mergeKey, kind string) []any {
	sort.SliceStable(toSort, func(i, j int) bool {
		if ii := index(order, toSort[i], mergeKey, kind); ii >= 0 {
			if ij := index(order, toSort[j], mergeKey, kind); ij >= 0 {
				return ii < ij
			}
		}
		return true
	})
	return toSort
}

// mergeSorted is strategicpatch's mergeSortedSlice.
func mergeSorted(left, right, serverOrder []any, mergeKey, kind string) []any {
	less := func(l, r any) (bool, bool) {
		li, ri := index(serverOrder, l, mergeKey, kind), index(serverOrder, r, mergeKey, kind)
		if li >= 0 && ri >= 0 {
			return li < ri, true
		}
		return false, false
	}
	size := len(left) + len(right)
	i, j := 0, 0
	s := make([]any, size)
	for k := range size {
		switch {
		case i >= len(left) && j < len(right):
			s[k] = right[j]
			j++
		case j >= len(right) && i < len(left):
			s[k] = left[i]
			i++
		default:
			if l, both := less(left[i], right[j]); both && l {
				s[k] = left[i]
				i++
			} else {
				s[k] = right[j]
				j++
			}
		}
	}
	return s
}
