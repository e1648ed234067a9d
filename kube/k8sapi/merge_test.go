package k8sapi

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// TestMergePodMatchesStrategicPatch: MergePod gives what strategicpatch
// gives for a Pod, on hand-written cases and on random lists of
// containers, env, ports, mounts, volumes and tolerations.
func TestMergePodMatchesStrategicPatch(t *testing.T) {
	t.Parallel()
	type tc struct{ template, patch string }
	cases := []tc{
		{`{}`, `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"task","image":"busybox"}]}}`},
		{`{"metadata":{"labels":{"a":"1","b":"2"},"annotations":{"x":"y"}}}`, `{"metadata":{"labels":{"b":"3","c":"4"}}}`},
		{`{"spec":{"containers":[{"name":"side","image":"s"},{"name":"task","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"volumeMounts":[{"name":"v","mountPath":"/v"}]}]}}`,
			`{"spec":{"containers":[{"name":"task","image":"i","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}],"command":["sh"],"args":["-c","x"]}]}}`},
		{`{"spec":{"containers":[{"name":"task","command":["a","b"],"args":["1"]}]}}`, `{"spec":{"containers":[{"name":"task","command":["c"]}]}}`},
		{`{"spec":{"tolerations":[{"key":"a","operator":"Exists"}]}}`, `{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}`},
		{`{"spec":{"volumes":[{"name":"a","emptyDir":{}},{"name":"b","hostPath":{"path":"/x"}}]}}`, `{"spec":{"volumes":[{"name":"b","emptyDir":{"medium":"Memory"}}]}}`},
		{`{"spec":{"nodeSelector":{"a":"1"},"terminationGracePeriodSeconds":60,"restartPolicy":"Always"}}`,
			`{"spec":{"nodeSelector":{"b":"2"},"terminationGracePeriodSeconds":10,"restartPolicy":"Never"}}`},
		{`{"metadata":{"finalizers":["a","b"]}}`, `{"metadata":{"finalizers":["b","c","a"]}}`},
		{`{"spec":{"containers":[{"name":"task","ports":[{"containerPort":80},{"containerPort":81,"name":"x"}]}]}}`,
			`{"spec":{"containers":[{"name":"task","ports":[{"containerPort":81,"name":"y"},{"containerPort":82}]}]}}`},
		{`{"spec":{"containers":[{"name":"task","resources":{"limits":{"cpu":"1"},"requests":{"memory":"1Gi"}}}]}}`,
			`{"spec":{"containers":[{"name":"task","resources":{"limits":{"memory":"2Gi"}}}]}}`},
		{`{"spec":{"containers":[{"name":"task","securityContext":{"runAsUser":1,"privileged":true}}]}}`,
			`{"spec":{"containers":[{"name":"task","securityContext":{"runAsUser":2}}]}}`},
		{`{"spec":{"containers":[{"name":"task","image":"x"}]}}`, `{"spec":{"containers":[{"name":"task","image":null}]}}`},
		{`{"metadata":{"creationTimestamp":"2020-01-01T00:00:00Z"}}`, `{"metadata":{"creationTimestamp":null},"status":{}}`},
		{`{"spec":{"imagePullSecrets":[{"name":"a"}],"initContainers":[{"name":"i","image":"x","env":[{"name":"Z"}]}]}}`,
			`{"spec":{"imagePullSecrets":[{"name":"b"}],"initContainers":[{"name":"i","env":[{"name":"Y","value":"y"}]}]}}`},
		{`{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"a","operator":"In","values":["x"]}]}]}}}}}`,
			`{"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{}}]}}}}`},
		{`{"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"},{"name":"c","image":"c"}]}}`,
			`{"spec":{"containers":[{"name":"c","image":"c2"},{"name":"d","image":"d"},{"name":"a","image":"a2"}]}}`},
		{`{"spec":{"hostAliases":[{"ip":"1.1.1.1","hostnames":["a"]}],"topologySpreadConstraints":[{"topologyKey":"k","maxSkew":1,"whenUnsatisfiable":"DoNotSchedule"}]}}`,
			`{"spec":{"hostAliases":[{"ip":"1.1.1.1","hostnames":["b"]}],"topologySpreadConstraints":[{"topologyKey":"j","maxSkew":2,"whenUnsatisfiable":"DoNotSchedule"}]}}`},
		{`{"spec":{"containers":[{"name":"task","envFrom":[{"configMapRef":{"name":"c"}}]}]}}`,
			`{"spec":{"containers":[{"name":"task","envFrom":[{"secretRef":{"name":"s"}}]}]}}`},
		{`{"spec":{"containers":[{"name":"task","image":"x","env":[{"name":"A","value":"1"}]}]}}`,
			`{"spec":{"containers":[{"name":"task","env":null}]}}`},
	}
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"task", "a", "b", "c", "d"}
	pick := func(n int) []string {
		var out []string
		for _, i := range r.Perm(len(names))[:r.IntN(n+1)] {
			out = append(out, names[i])
		}
		return out
	}
	list := func(key string, extra func(string) map[string]any) []any {
		var l []any
		for _, n := range pick(4) {
			m := map[string]any{key: n}
			for k, v := range extra(n) {
				m[k] = v
			}
			l = append(l, m)
		}
		return l
	}
	for range 300 {
		side := func() string {
			ctrs := list("name", func(n string) map[string]any {
				m := map[string]any{"image": n + fmt.Sprint(r.IntN(3))}
				if r.IntN(2) == 0 {
					m["env"] = list("name", func(string) map[string]any { return map[string]any{"value": fmt.Sprint(r.IntN(3))} })
				}
				if r.IntN(3) == 0 {
					m["volumeMounts"] = list("mountPath", func(string) map[string]any { return map[string]any{"name": "v"} })
				}
				if r.IntN(3) == 0 {
					var ports []any
					for _, p := range r.Perm(4)[:r.IntN(4)] {
						ports = append(ports, map[string]any{"containerPort": 80 + p})
					}
					m["ports"] = ports
				}
				if r.IntN(3) == 0 {
					m["command"] = pick(3)
				}
				return m
			})
			spec := map[string]any{"containers": ctrs}
			if r.IntN(2) == 0 {
				spec["volumes"] = list("name", func(string) map[string]any { return map[string]any{"emptyDir": map[string]any{}} })
			}
			if r.IntN(2) == 0 {
				spec["tolerations"] = list("key", func(string) map[string]any { return map[string]any{"operator": "Exists"} })
			}
			if r.IntN(3) == 0 {
				spec["initContainers"] = list("name", func(n string) map[string]any { return map[string]any{"image": n} })
			}
			meta := map[string]any{}
			if r.IntN(2) == 0 {
				meta["finalizers"] = pick(4)
			}
			b, _ := json.Marshal(map[string]any{"spec": spec, "metadata": meta})
			return string(b)
		}
		cases = append(cases, tc{side(), side()})
	}
	for _, c := range cases {
		want, werr := strategicpatch.StrategicMergePatch([]byte(c.template), []byte(c.patch), corev1.Pod{})
		got, gerr := MergePod([]byte(c.template), []byte(c.patch))
		if (werr == nil) != (gerr == nil) {
			t.Errorf("MergePod(%s, %s): error %v, strategicpatch's %v", c.template, c.patch, gerr, werr)
			continue
		}
		if werr != nil {
			continue
		}
		var wantV any
		if err := json.Unmarshal(want, &wantV); err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(got)
		var gotV any
		if err := json.Unmarshal(gotJSON, &gotV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("MergePod(%s, %s)\n= %s\nstrategicpatch: %s", c.template, c.patch, gotJSON, want)
		}
	}
}

// TestMergePodRealisticTemplates: pod_templates as people write them
// (sidecars and native sidecars, init containers, volumes of several
// kinds, env from fields and secrets, pod and container securityContext,
// affinity, tolerations, topology spread, DNS) merged with the Pod sluice
// builds (its container with env, envFrom, resources, securityContext;
// tolerations, nodeSelector, labels) give what strategicpatch gives.
func TestMergePodRealisticTemplates(t *testing.T) {
	t.Parallel()
	templates := []string{
		`{"metadata":{"labels":{"team":"data","dev.sluice/worker":"spoofed"},"annotations":{"cluster-autoscaler.kubernetes.io/safe-to-evict":"false"}},
		  "spec":{"serviceAccountName":"etl","priorityClassName":"batch","automountServiceAccountToken":false,
		   "securityContext":{"runAsNonRoot":true,"runAsUser":1000,"fsGroup":2000,"seccompProfile":{"type":"RuntimeDefault"}},
		   "initContainers":[{"name":"fetch","image":"alpine","command":["sh","-c","wget -O /data/in $URL"],"env":[{"name":"URL","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"url"}}}],"volumeMounts":[{"name":"data","mountPath":"/data"}]},
		                     {"name":"proxy","image":"envoy","restartPolicy":"Always","ports":[{"containerPort":15001,"protocol":"TCP"}]}],
		   "containers":[{"name":"task","volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"creds","mountPath":"/var/run/creds","readOnly":true}],
		                  "env":[{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"MODE","value":"template"}],
		                  "envFrom":[{"configMapRef":{"name":"common"}}],
		                  "resources":{"limits":{"memory":"1Gi","nvidia.com/gpu":"1"},"requests":{"cpu":"250m"}},
		                  "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"readOnlyRootFilesystem":true}},
		                 {"name":"log-shipper","image":"fluent-bit","resources":{"limits":{"memory":"64Mi"}}}],
		   "volumes":[{"name":"data","emptyDir":{"sizeLimit":"10Gi"}},{"name":"creds","secret":{"secretName":"creds","defaultMode":256}},
		              {"name":"token","projected":{"sources":[{"serviceAccountToken":{"audience":"vault","expirationSeconds":3600,"path":"token"}}]}}],
		   "tolerations":[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"}],
		   "nodeSelector":{"pool":"batch"},
		   "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/arch","operator":"In","values":["amd64"]}]}]}},
		               "podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,"podAffinityTerm":{"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchLabels":{"team":"data"}}}}]}},
		   "topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"team":"data"}}}],
		   "dnsPolicy":"None","dnsConfig":{"nameservers":["10.0.0.10"],"options":[{"name":"ndots","value":"2"}]},
		   "imagePullSecrets":[{"name":"registry"}],"activeDeadlineSeconds":7200,"terminationGracePeriodSeconds":120}}`,
		`{"spec":{"containers":[{"name":"task","image":"template-image","args":["--from-template"],"ports":[{"containerPort":8080,"name":"http"}],
		   "livenessProbe":{"httpGet":{"path":"/healthz","port":8080}},"env":[{"name":"MODE","value":"template"},{"name":"KEEP","value":"1"}]}],
		   "hostAliases":[{"ip":"10.1.1.1","hostnames":["db.internal"]}],"tolerations":[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"}]}}`,
	}
	uid, gid, grace := int64(1001), int64(1001), int64(30)
	pod := Pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: ObjectMeta{Name: "sluice-p-t-1", Namespace: "ns", Labels: map[string]string{"dev.sluice/worker": "w", "dev.sluice/attempt": "1"},
			Annotations: map[string]string{"dev.sluice/task-id": "t"}},
		Spec: PodSpec{
			RestartPolicy: RestartPolicyNever, ServiceAccountName: "", NodeSelector: map[string]string{"disk": "ssd"},
			TerminationGracePeriodSeconds: &grace,
			Tolerations:                   json.RawMessage(`[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"},{"key":"gpu","operator":"Exists"}]`),
			Containers: []Container{{
				Name: "task", Image: "busybox", Command: []string{"/bin/sh", "-c"}, Args: []string{"run"},
				Env:                    []EnvVar{{Name: "MODE", Value: "sluice"}, {Name: "SLUICE_OUTPUT", Value: "/dev/termination-log"}},
				EnvFrom:                []EnvFromSource{{SecretRef: &LocalObjectReference{Name: "sluice-p-t-1"}}},
				Resources:              &ResourceRequirements{Limits: map[string]string{"memory": "2Gi"}, Requests: map[string]string{"cpu": "1"}},
				SecurityContext:        &SecurityContext{RunAsUser: &uid, RunAsGroup: &gid},
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: TerminationMessageFile,
			}},
		},
	}
	patch, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range templates {
		want, err := strategicpatch.StrategicMergePatch([]byte(tmpl), patch, corev1.Pod{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := MergePod([]byte(tmpl), patch)
		if err != nil {
			t.Fatal(err)
		}
		var wantV, gotV any
		gotJSON, _ := json.Marshal(got)
		if err := json.Unmarshal(want, &wantV); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(gotJSON, &gotV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("MergePod(%s)\n= %s\nstrategicpatch: %s", tmpl, gotJSON, want)
		}
	}
}
