package k8sapi

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/validate/content"
)

// TestNamesMatchAPIMachinery: the name checks give the API's messages.
func TestNamesMatchAPIMachinery(t *testing.T) {
	t.Parallel()
	cases := []string{"", "a", "A", "a-b", "a_b", "a.b", "-a", "a-", ".a", "a/b", "example.com/a", "/a", "a/", "a/b/c", "Example.com/a",
		"ex_ample.com/a", "a b", "日本", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 254), "x." + strings.Repeat("a", 64),
		"my-name", "123-abc", "a..b", "dev.sluice/task", "dev.sluice.task", "kubernetes.io/hostname", "nvidia.com/gpu", "cpu"}
	for _, s := range cases {
		for _, c := range []struct {
			name      string
			got, want func(string) []string
		}{
			{"IsQualifiedName", IsQualifiedName, content.IsQualifiedName},
			{"IsLabelValue", IsLabelValue, content.IsLabelValue},
			{"IsDNS1123Label", IsDNS1123Label, content.IsDNS1123Label},
			{"IsDNS1123Subdomain", IsDNS1123Subdomain, content.IsDNS1123Subdomain},
		} {
			if got, want := c.got(s), c.want(s); !reflect.DeepEqual(got, want) {
				t.Errorf("%s(%q) = %q, the API's %q", c.name, s, got, want)
			}
		}
	}
}
