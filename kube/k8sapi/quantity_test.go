package k8sapi

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// TestQuantityMatchesAPIMachinery: ParseQuantity accepts and refuses what
// the API's does, and String and Cmp agree with it.
func TestQuantityMatchesAPIMachinery(t *testing.T) {
	t.Parallel()
	cases := []string{"0", "1", "-1", "+1", "0.5", ".5", "1.", ".", "500m", "0.1m", "1n", "0.1n", "1.5n", "1u", "100", "1000", "1500",
		"1k", "1K", "1M", "1G", "1T", "1P", "1E", "1000E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei", "8Ei", "100Ei", "1024", "1023Ki",
		"1024Mi", "0.5Gi", "1.5Gi", "0.1Ki", "0.001Ki", "1e3", "1E3", "1e-3", "1e21", "1.5e3", "12e6", "1e", "e3", "1i", "1Z", "abc",
		"", "-", "+", "--1", "1.2.3", "1 ", " 1", "0001", "000", "0.000", "-0", "-500m", "-1Gi", "-1500Mi", "123456789012345678901234567890",
		"0.0000000001", "1.0000000001", "999999999999999999999Gi", "9223372036854775807", "9223372036854775808Ki", "1e-12", "3.14159",
		"2000m", "100Mi", "512Mi", "0.25", "250m", "1.25", "2e-9", "1e+3", "1e+", "1m5", "5mi", "1Kii", "0x10", "1_000"}
	r := rand.New(rand.NewPCG(1, 2))
	suffixes := []string{"", "m", "n", "u", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-2", "E6"}
	for range 2000 {
		n := fmt.Sprintf("%d", r.IntN(100000))
		if r.IntN(2) == 0 {
			n += fmt.Sprintf(".%d", r.IntN(1000))
		}
		if r.IntN(4) == 0 {
			n = "-" + n
		}
		cases = append(cases, n+suffixes[r.IntN(len(suffixes))])
	}
	var prev []Quantity
	var prevAPI []resource.Quantity
	for _, s := range cases {
		want, werr := resource.ParseQuantity(s)
		got, gerr := ParseQuantity(s)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("ParseQuantity(%q): error %v, the API's %v", s, gerr, werr)
			continue
		}
		if werr != nil {
			continue
		}
		if got.String() != want.String() {
			t.Errorf("ParseQuantity(%q) = %s, the API's %s", s, got.String(), want.String())
		}
		if got.Sign() != want.Sign() {
			t.Errorf("%q: sign %d, the API's %d", s, got.Sign(), want.Sign())
		}
		for i := range prev {
			if c, w := got.Cmp(prev[i]), want.Cmp(prevAPI[i]); c != w {
				t.Errorf("%q Cmp %s = %d, the API's %d", s, prevAPI[i].String(), c, w)
			}
		}
		if len(prev) < 40 {
			prev, prevAPI = append(prev, got), append(prevAPI, want)
		}
	}
	for _, v := range []int64{0, 1, 500, 1000, 1500, 123456} {
		if got, want := NewMilliQuantity(v).String(), resource.NewMilliQuantity(v, resource.DecimalSI).String(); got != want {
			t.Errorf("NewMilliQuantity(%d) = %s, the API's %s", v, got, want)
		}
	}
	for _, v := range []int64{0, 1, 1023, 1024, 1536, 1 << 20, 3 << 30, 1000000} {
		if got, want := NewBinaryQuantity(v).String(), resource.NewQuantity(v, resource.BinarySI).String(); got != want {
			t.Errorf("NewBinaryQuantity(%d) = %s, the API's %s", v, got, want)
		}
	}
}
