package web

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/store"
)

// TestLineage draws pipelines and assets: producers before their assets,
// assets before their consumers, and around an asset only what is up-
// or downstream of it (with what its consumers also wait for).
func TestLineage(t *testing.T) {
	t.Parallel()
	assets := []*store.AssetInfo{
		{Name: "raw", Producers: []store.AssetProducer{{PipelineID: "extract", TaskID: "pull"}, {PipelineID: "extract", TaskID: "again"}}, Consumers: []string{"build"}},
		{Name: "built", Producers: []store.AssetProducer{{PipelineID: "build", TaskID: "load"}}, Consumers: []string{"report"}},
		{Name: "crm", Consumers: []string{"report"}},
		{Name: "unrelated", Producers: []store.AssetProducer{{PipelineID: "other", TaskID: "t"}}},
		// A cycle through assets (load-time validation reports it) still
		// draws.
		{Name: "loop", Producers: []store.AssetProducer{{PipelineID: "report", TaskID: "r"}}, Consumers: []string{"build"}},
	}
	g := lineageOf(assets)
	if got := len(g.nodes); got != 9 {
		t.Fatalf("nodes = %v, want 9", g.nodes)
	}
	if ups := g.deps[assetNode("raw")]; !slices.Equal(ups, []string{pipelineNode("extract")}) {
		t.Errorf("raw's upstream = %v, want extract once", ups)
	}
	v := g.draw(assetNode("built"))
	// The layout breaks the cycle by leaving out one edge of it: 7 of 8.
	if v.Pipelines != 4 || v.Assets != 5 || len(v.Edges) != 7 {
		t.Fatalf("drawing: %d pipelines, %d assets, %d edges", v.Pipelines, v.Assets, len(v.Edges))
	}
	x := map[string]float64{}
	for _, n := range v.Nodes {
		x[n.Kind+" "+n.Name] = n.X
		if n.Current != (n.Kind == "asset" && n.Name == "built") {
			t.Errorf("node %s %s current = %v", n.Kind, n.Name, n.Current)
		}
		if n.Kind == "asset" && !strings.HasPrefix(n.Href, "/assets/") || n.Kind == "pipeline" && !strings.HasPrefix(n.Href, "/pipelines/") {
			t.Errorf("node %s %s links to %s", n.Kind, n.Name, n.Href)
		}
	}
	if !(x["pipeline extract"] < x["asset raw"] && x["asset raw"] < x["pipeline build"] && x["pipeline build"] < x["asset built"] && x["asset built"] < x["pipeline report"]) {
		t.Errorf("the chain is not drawn left to right: %v", x)
	}

	around := g.around(assetNode("crm"))
	names := slices.Sorted(slices.Values(around.nodes))
	// Downstream of crm: report → loop → build → built (→ report). Their
	// other direct inputs add raw; extract, two steps back, stays out, as
	// do other and unrelated.
	want := []string{"a:built", "a:crm", "a:loop", "a:raw", "p:build", "p:report"}
	if !slices.Equal(names, want) {
		t.Errorf("around crm = %v, want %v", names, want)
	}
	if got := g.around(assetNode("unrelated")).nodes; !slices.Equal(got, []string{"p:other", "a:unrelated"}) {
		t.Errorf("around unrelated = %v", got)
	}
	if href := assetHref("s3://lake/k@v=1"); href != "/assets/s3:%2F%2Flake%2Fk@v=1" {
		t.Errorf("assetHref = %q", href)
	}
}
