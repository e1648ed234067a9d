package sluice

import (
	"encoding/json"
	"fmt"
	"slices"
)

// AssetCondition is when a pipeline scheduled on assets runs, as a tree:
// a leaf names an asset, which holds when the asset has had an event since
// the pipeline's last asset-triggered run (Airflow's rule); Any holds when
// one of its parts does, All when each does. A plain list of assets in a
// pipeline file is All of them.
//
// In JSON a leaf is the asset's name and a node is {"any": [...]} or
// {"all": [...]}, the shape of the pipeline file.
type AssetCondition struct {
	Asset string
	Any   []*AssetCondition
	All   []*AssetCondition
}

// AllAssets is the condition of a plain list: every asset has an event.
func AllAssets(names []string) *AssetCondition {
	c := &AssetCondition{}
	for _, n := range names {
		c.All = append(c.All, &AssetCondition{Asset: n})
	}
	return c
}

// Holds reports whether the condition holds when fresh says which assets
// have had an event since the last asset-triggered run. An empty Any or
// All does not hold: a condition that waits for nothing never runs.
func (c *AssetCondition) Holds(fresh func(asset string) bool) bool {
	switch {
	case c == nil:
		return false
	case c.Asset != "":
		return fresh(c.Asset)
	case len(c.Any) > 0:
		return slices.ContainsFunc(c.Any, func(p *AssetCondition) bool { return p.Holds(fresh) })
	case len(c.All) > 0:
		return !slices.ContainsFunc(c.All, func(p *AssetCondition) bool { return !p.Holds(fresh) })
	}
	return false
}

// Names returns the assets the condition names, sorted, each once.
func (c *AssetCondition) Names() []string {
	var out []string
	var walk func(*AssetCondition)
	walk = func(c *AssetCondition) {
		if c == nil {
			return
		}
		if c.Asset != "" {
			out = append(out, c.Asset)
		}
		for _, p := range c.Any {
			walk(p)
		}
		for _, p := range c.All {
			walk(p)
		}
	}
	walk(c)
	slices.Sort(out)
	return slices.Compact(out)
}

// MarshalJSON writes a leaf as its name and a node as {"any": …} or
// {"all": …}.
func (c *AssetCondition) MarshalJSON() ([]byte, error) {
	switch {
	case c.Asset != "":
		return json.Marshal(c.Asset)
	case c.Any != nil:
		return json.Marshal(map[string][]*AssetCondition{"any": c.Any})
	}
	return json.Marshal(map[string][]*AssetCondition{"all": c.All})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *AssetCondition) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		*c = AssetCondition{Asset: name}
		return nil
	}
	var m map[string][]*AssetCondition
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("asset condition: want a name, {\"any\": [...]} or {\"all\": [...]}: %w", err)
	}
	*c = AssetCondition{}
	for k, v := range m {
		switch k {
		case "any":
			c.Any = v
		case "all":
			c.All = v
		default:
			return fmt.Errorf("asset condition: unknown key %q; want any or all", k)
		}
	}
	if len(m) != 1 {
		return fmt.Errorf("asset condition: want exactly one of any or all, got %d keys", len(m))
	}
	return nil
}
