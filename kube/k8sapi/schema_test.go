package k8sapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestCheckMatchesDecoding: Type.Check finds what decoding into
// k8s.io/api's Pod finds in values whose fields and kinds are right: the
// first number out of its field's range, in decoding's order.
func TestCheckMatchesDecoding(t *testing.T) {
	t.Parallel()
	cases := []string{
		`{"spec":{"containers":[{"name":"a","ports":[{"containerPort":99999999999}]}]}}`,
		`{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80}]}]}}`,
		`{"spec":{"terminationGracePeriodSeconds":9223372036854775807,"priority":2147483648}}`,
		`{"spec":{"priority":-2147483649,"activeDeadlineSeconds":1}}`,
		`{"spec":{"securityContext":{"runAsUser":-1,"fsGroup":99999999999999999999}}}`,
		`{"spec":{"initContainers":[{"name":"b","ports":[{"containerPort":1,"hostPort":4294967296}]}],"containers":[{"name":"a","ports":[{"containerPort":99999999999}]}]}}`,
		`{"metadata":{"creationTimestamp":"2020-01-01T00:00:00Z"}}`,
		`{"metadata":{"creationTimestamp":"yesterday"}}`,
		`{"spec":{"volumes":[{"name":"v","secret":{"defaultMode":4294967296}}]}}`,
	}
	pod := PodType()
	for _, c := range cases {
		dec := json.NewDecoder(bytes.NewReader([]byte(c)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		// pipeline checks values it encodes with sorted keys, the order
		// decoding meets them in.
		sorted, _ := json.Marshal(v)
		want := ""
		var p corev1.Pod
		if err := json.Unmarshal(sorted, &p); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				want = fmt.Sprintf("%s: want %s, got %s", te.Field, te.Type, te.Value)
			} else {
				want = err.Error()
			}
		}
		got := ""
		if err := pod.Check(v); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("Check(%s) = %q, decoding says %q", c, got, want)
		}
	}
	if tol := TypeNamed("Toleration"); tol == nil || tol.Fields["tolerationSeconds"].Name != "int64" {
		t.Fatalf("Toleration: %+v", tol)
	}
}
