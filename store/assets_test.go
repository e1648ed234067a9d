package store_test

import (
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/store"
)

func TestParseAssetKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want []store.ConsumedEvent
	}{
		{"warehouse.orders:12", []store.ConsumedEvent{{Asset: "warehouse.orders", EventID: 12}}},
		// A name may hold colons: the id is after the last one.
		{"a:3,s3://lake/k@v=1:15", []store.ConsumedEvent{{Asset: "a", EventID: 3}, {Asset: "s3://lake/k@v=1", EventID: 15}}},
		// A hashed key (of a long list) and junk name nothing.
		{"sha256:0f3a9c", nil},
		{"", nil},
		{"a:x,:4,b:0,c:-1,has space:2", nil},
	} {
		if got := store.ParseAssetKey(tc.key); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAssetKey(%q) = %+v, want %+v", tc.key, got, tc.want)
		}
	}
}
