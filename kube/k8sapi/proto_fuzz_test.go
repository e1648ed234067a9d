package k8sapi

import (
	"bytes"
	"encoding/binary"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FuzzDecode: what the API server (or whatever answers in its place)
// sends is decoded without a panic, whole or cut anywhere: a Pod, a
// PodList, a Status, a watch stream. The seeds are apimachinery's
// encodings.
func FuzzDecode(f *testing.F) {
	pod := encodeProto(f, richPod("p"))
	status := encodeProto(f, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Code: 410, Reason: "Expired"})
	ev, err := (&metav1.WatchEvent{Type: "MODIFIED", Object: runtime.RawExtension{Raw: pod}}).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(ev)))
	f.Add(pod)
	f.Add(status)
	f.Add(append(frame, ev...))
	f.Add(pod[:len(pod)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Pod
		_ = DecodePod(b, &p)
		var l PodList
		_ = DecodePodList(b, &l)
		var st Status
		_ = DecodeStatus(b, &st)
		// As a stream: events until an error.
		r := bytes.NewReader(b)
		var buf []byte
		for range 100 {
			var err error
			if _, _, _, buf, err = ReadWatchEvent(r, buf); err != nil {
				break
			}
		}
		// The same bytes as one event's body.
		_, _, _, _, _ = ReadWatchEvent(bytes.NewReader(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)), nil)
	})
}
