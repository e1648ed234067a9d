package k8sapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

func richPod(name string) *corev1.Pod {
	del := metav1.NewTime(time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC))
	grace := int64(30)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: "123", DeletionTimestamp: &del,
			Labels: map[string]string{"a": "1", "dev.sluice/attempt": "7"}, Annotations: map[string]string{"x": "y"}, UID: "u-1",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: "Update"}}},
		Spec: corev1.PodSpec{
			NodeName: "node-1", RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{
				{Name: "side", Image: "busybox"},
				{Name: "task", Image: "busybox", Command: []string{"sh"}, Env: []corev1.EnvVar{{Name: "A", Value: "1"}},
					Resources: corev1.ResourceRequirements{
						Limits:   corev1.ResourceList{"memory": resource.MustParse("64Mi"), "cpu": resource.MustParse("500m")},
						Requests: corev1.ResourceList{"cpu": resource.MustParse("0.1")}}},
			},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodFailed, Reason: "Evicted", Message: "low on memory",
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/2 nodes"}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "side", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: del}}},
				{Name: "task", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "out=1\n"}}},
				{Name: "w", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "no such image"}}},
			},
		},
	}
}

// viaJSON is what sluice reads of obj from its JSON.
func viaJSON[T any](t *testing.T, obj any) T {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func encodeProto(t testing.TB, obj runtime.Object) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(obj, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestProtoMatchesK8sAPI: a Pod, a PodList, a Status and a watch event
// encoded by apimachinery's protobuf serializer decode to what their JSON
// does.
func TestProtoMatchesK8sAPI(t *testing.T) {
	t.Parallel()
	pod := richPod("p")
	var got Pod
	if err := DecodePod(encodeProto(t, pod), &got); err != nil {
		t.Fatal(err)
	}
	want := viaJSON[Pod](t, pod)
	// Only the fields the protobuf decoder reads.
	want.APIVersion, want.Kind = "", ""
	want.Spec = PodSpec{NodeName: want.Spec.NodeName, Containers: want.Spec.Containers}
	for i, c := range want.Spec.Containers {
		want.Spec.Containers[i] = Container{Name: c.Name, Resources: c.Resources}
	}
	for i := range want.Status.ContainerStatuses {
		if r := want.Status.ContainerStatuses[i].State.Running; r != nil {
			r.StartedAt = nil
		}
	}
	want.Spec.Containers[0].Resources = &ResourceRequirements{}
	if got.Spec.Containers[0].Resources != nil && len(got.Spec.Containers[0].Resources.Limits) == 0 {
		got.Spec.Containers[0].Resources = &ResourceRequirements{}
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("protobuf Pod\n%s\nJSON\n%s", gj, wj)
	}

	list := &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "456", Continue: "next"}, Items: []corev1.Pod{*richPod("a"), *richPod("b")}}
	var l PodList
	if err := DecodePodList(encodeProto(t, list), &l); err != nil {
		t.Fatal(err)
	}
	if l.Metadata.ResourceVersion != "456" || l.Metadata.Continue != "next" || len(l.Items) != 2 || l.Items[1].Metadata.Name != "b" ||
		l.Items[1].Status.ContainerStatuses[1].State.Terminated.ExitCode != 137 {
		t.Fatalf("PodList: %+v", l)
	}

	status := &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: "Failure",
		Message: "too old resource version: 1 (2)", Reason: metav1.StatusReasonExpired, Code: 410}
	var st Status
	if err := DecodeStatus(encodeProto(t, status), &st); err != nil {
		t.Fatal(err)
	}
	if st != (Status{Kind: "Status", Status: "Failure", Message: status.Message, Reason: "Expired", Code: 410}) {
		t.Fatalf("Status: %+v", st)
	}

	// A watch stream: two events, each a length and a WatchEvent whose
	// object is in its envelope.
	var stream bytes.Buffer
	for _, ev := range []metav1.WatchEvent{
		{Type: "MODIFIED", Object: runtime.RawExtension{Raw: encodeProto(t, pod)}},
		{Type: "ERROR", Object: runtime.RawExtension{Raw: encodeProto(t, status)}},
	} {
		b, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_ = binary.Write(&stream, binary.BigEndian, uint32(len(b)))
		stream.Write(b)
	}
	typ, p, s, buf, err := ReadWatchEvent(&stream, nil)
	if err != nil || typ != "MODIFIED" || p == nil || s != nil || p.Metadata.Name != "p" || p.Status.Reason != "Evicted" {
		t.Fatalf("first event: %s %+v %+v %v", typ, p, s, err)
	}
	typ, p, s, _, err = ReadWatchEvent(&stream, buf)
	if err != nil || typ != "ERROR" || p != nil || s == nil || s.Code != 410 {
		t.Fatalf("second event: %s %+v %+v %v", typ, p, s, err)
	}
	if _, _, _, _, err := ReadWatchEvent(&stream, buf); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}
