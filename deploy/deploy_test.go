package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/server"
)

// What a sluice process takes to stop, as server.Run and the flags of
// cmd/sluice have it.
const (
	defaultDrainTimeout = server.DefaultDrainTimeout
	defaultKillGrace    = server.DefaultKillGrace
	httpShutdown        = server.ShutdownTimeout
)

// The deployment as the files state it.
const (
	image      = "ghcr.io/sluice-dev/sluice:0.1.0"
	listenPort = 8080
)

// wantCompose is how many processes of each role compose.yaml runs.
var wantCompose = map[string]int{"scheduler": 2, "worker": 3, "web": 1}

// --- the files, as much of them as the checks need ---

type composeFile struct {
	Services map[string]*composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	User        string            `yaml:"user"`
	Environment map[string]string `yaml:"environment"`
	Deploy      struct {
		Replicas *int `yaml:"replicas"`
	} `yaml:"deploy"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Volumes []string `yaml:"volumes"`
	Ports   []string `yaml:"ports"`
}

type meta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type header struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
}

type deployment struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata meta    `yaml:"metadata"`
			Spec     podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int         `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               securityCtx  `yaml:"securityContext"`
	Containers                    []*container `yaml:"containers"`
	Volumes                       []*podVolume `yaml:"volumes"`
	InitContainers                []*container `yaml:"initContainers"`
}

type securityCtx struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]any `yaml:"requests"`
		Limits   map[string]any `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityCtx `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type podVolume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
}

type pdb struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		MinAvailable   any `yaml:"minAvailable"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

type service struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type configMap struct {
	Metadata   meta              `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

// bundle is every deployment file, parsed.
type bundle struct {
	compose     *composeFile
	deployments map[string]*deployment // by role: the container's first arg
	pdbs        []*pdb
	services    []*service
	configMaps  map[string]*configMap
	secrets     map[string]*configMap // from the template
	dockerfile  []string              // the final stage's instructions, joined across continuations
	rbac        *rbacFile             // k8s/worker-rbac.yaml
}

func load(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{deployments: map[string]*deployment{}, configMaps: map[string]*configMap{}, secrets: map[string]*configMap{}}
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b.compose = &composeFile{}
	if err := yaml.Unmarshal(data, b.compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	files, _ := filepath.Glob("k8s/*.yaml")
	files = append(files, "k8s/secret.yaml.example", "k8s/pipelines.yaml.example")
	if len(files) < 4 {
		t.Fatalf("k8s manifests: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(doc.Content) == 0 {
				continue
			}
			var h header
			decode := func(v any) {
				t.Helper()
				if err := doc.Decode(v); err != nil {
					t.Fatalf("%s: %s: %v", f, h.Kind, err)
				}
			}
			decode(&h)
			if f == rbacPath {
				if b.rbac == nil {
					b.rbac = &rbacFile{}
				}
				if err := b.rbac.add(&doc, false); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				continue
			}
			switch h.Kind {
			case "Deployment":
				var d deployment
				decode(&d)
				if len(d.Spec.Template.Spec.Containers) == 0 || len(d.Spec.Template.Spec.Containers[0].Args) == 0 {
					t.Fatalf("%s: deployment %s: its first container has no args naming the role", f, h.Metadata.Name)
				}
				b.deployments[d.Spec.Template.Spec.Containers[0].Args[0]] = &d
			case "PodDisruptionBudget":
				var p pdb
				decode(&p)
				b.pdbs = append(b.pdbs, &p)
			case "Service":
				var s service
				decode(&s)
				b.services = append(b.services, &s)
			case "ConfigMap":
				var c configMap
				decode(&c)
				b.configMaps[c.Metadata.Name] = &c
			case "Secret":
				var c configMap
				decode(&c)
				b.secrets[c.Metadata.Name] = &c
			default:
				t.Fatalf("%s: unexpected kind %q: teach deploy_test.go about it", f, h.Kind)
			}
		}
	}
	if b.rbac == nil {
		t.Fatalf("%s: no ServiceAccount, Role or RoleBinding", rbacPath)
	}
	if err := b.rbac.addCommented(rbacPath); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	b.dockerfile = finalStage(string(data))
	return b
}

// finalStage returns the instructions of a Dockerfile's last stage, with
// continuation lines joined and comments dropped.
func finalStage(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		ins := cur.String()
		cur.Reset()
		if strings.HasPrefix(strings.ToUpper(ins), "FROM ") {
			out = nil
		}
		out = append(out, ins)
	}
	return out
}

// --- helpers ---

// flag returns the value of a sluice flag from args (--name v or
// --name=v) or from the environment (SLUICE_NAME), and whether it is set.
func flag(args []string, env map[string]string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	v, ok := env["SLUICE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))]
	return v, ok
}

// stopBudget is the longest a process may take from SIGTERM to exit: the
// preStop hook, the drain and kill grace of a role that runs tasks, and
// closing the HTTP server.
func stopBudget(args []string, env map[string]string, preStop time.Duration) (time.Duration, error) {
	d := preStop + httpShutdown
	if len(args) == 0 || (args[0] != "worker" && args[0] != "server") {
		return d, nil
	}
	for _, f := range []struct {
		name string
		def  time.Duration
	}{{"drain-timeout", defaultDrainTimeout}, {"kill-grace", defaultKillGrace}} {
		v, ok := flag(args, env, f.name)
		if !ok {
			d += f.def
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("--%s %q: %v", f.name, v, err)
		}
		d += dur
	}
	return d, nil
}

// interpolation matches a compose variable: ${NAME}, ${NAME:-default},
// ${NAME:?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}`)

// composeDefault resolves a compose value as if no variable were set:
// defaults apply, required variables become <NAME>.
func composeDefault(s string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		if g[2] == "-" {
			return g[3]
		}
		return "<" + g[1] + ">"
	})
}

// required reports whether a compose value is exactly one required
// variable, ${NAME:?…}: a secret that compose refuses to start without.
func required(s, name string) bool {
	g := interpolation.FindStringSubmatch(s)
	return g != nil && g[0] == s && g[1] == name && g[2] == "?"
}

func listenPortOf(args []string, env map[string]string) (int, error) {
	v, ok := flag(args, env, "listen")
	if !ok {
		return 0, fmt.Errorf("no --listen or SLUICE_LISTEN: the role's default listens on loopback only, out of reach of probes")
	}
	i := strings.LastIndex(v, ":")
	if i < 0 || (i > 0 && !strings.HasPrefix(v, "0.0.0.0") && !strings.HasPrefix(v, "[::]")) {
		return 0, fmt.Errorf("listen %q: want :PORT (all interfaces) so probes reach it", v)
	}
	return strconv.Atoi(v[i+1:])
}

// --- the checks ---

func checkDockerfile(lines []string) []string {
	var problems []string
	has := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(strings.ToUpper(l), prefix) {
				return l
			}
		}
		return ""
	}
	from := strings.ToLower(has("FROM "))
	if strings.Contains(from, "scratch") || strings.Contains(from, "distroless") {
		problems = append(problems, "Dockerfile: the final stage "+from+" has no /bin/sh, which shell tasks need")
	}
	user := strings.Fields(has("USER ") + " ")
	if len(user) < 2 {
		problems = append(problems, "Dockerfile: no USER in the final stage: the image would run as root")
	} else {
		uid, err := strconv.Atoi(strings.SplitN(user[1], ":", 2)[0])
		if err != nil || uid == 0 {
			problems = append(problems, "Dockerfile: USER "+user[1]+": want a numeric non-root uid (Kubernetes checks runAsNonRoot against it)")
		}
	}
	if s := has("STOPSIGNAL "); !strings.Contains(s, "SIGTERM") {
		problems = append(problems, "Dockerfile: STOPSIGNAL must be SIGTERM, the signal sluice drains on")
	}
	if h := has("HEALTHCHECK "); !strings.Contains(h, "/healthz") && !strings.Contains(h, "/readyz") {
		problems = append(problems, "Dockerfile: HEALTHCHECK does not ask /healthz or /readyz")
	}
	if e := has("EXPOSE "); !strings.Contains(e, strconv.Itoa(listenPort)) {
		problems = append(problems, fmt.Sprintf("Dockerfile: EXPOSE %q, want %d", e, listenPort))
	}
	if e := has("ENV "); !strings.Contains(e, fmt.Sprintf("SLUICE_LISTEN=:%d", listenPort)) {
		problems = append(problems, fmt.Sprintf("Dockerfile: ENV does not set SLUICE_LISTEN=:%d", listenPort))
	}
	if has("VOLUME ") == "" {
		problems = append(problems, "Dockerfile: no VOLUME for the SQLite home")
	}
	return problems
}

func checkCompose(c *composeFile) []string {
	var problems []string
	bad := func(svc, format string, args ...any) {
		problems = append(problems, "compose "+svc+": "+fmt.Sprintf(format, args...))
	}
	count := map[string]int{}
	var pg string
	var sluiceImage string
	pipelinesMount := map[string]string{}
	secretKey := map[string]string{}
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "postgres:") {
			pg = name
			if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
				bad(name, "no healthcheck: condition service_healthy would never hold")
			}
			if !required(s.Environment["POSTGRES_PASSWORD"], "POSTGRES_PASSWORD") {
				bad(name, "POSTGRES_PASSWORD is %q, want ${POSTGRES_PASSWORD:?…} from the environment", s.Environment["POSTGRES_PASSWORD"])
			}
		}
	}
	if pg == "" {
		problems = append(problems, "compose: no postgres service")
	}
	for name, s := range c.Services {
		if name == pg {
			continue
		}
		if sluiceImage == "" {
			sluiceImage = s.Image
		} else if s.Image != sluiceImage {
			bad(name, "image %q differs from another sluice service's %q: every role runs one image", s.Image, sluiceImage)
		}
		if got := composeDefault(s.Image); got != image {
			bad(name, "image %q defaults to %q, want %q (as in k8s/)", s.Image, got, image)
		}
		if len(s.Command) == 0 {
			bad(name, "no command naming the role")
			continue
		}
		role := s.Command[0]
		n := 1
		if s.Deploy.Replicas != nil {
			n = *s.Deploy.Replicas
		}
		count[role] += n
		if s.User != "" {
			if uid, err := strconv.Atoi(strings.SplitN(s.User, ":", 2)[0]); err != nil || uid == 0 {
				bad(name, "user %q: want a non-root uid, or none for the image's", s.User)
			}
		}
		if dep, ok := s.DependsOn[pg]; !ok || dep.Condition != "service_healthy" {
			bad(name, "depends_on %s without condition: service_healthy", pg)
		}
		db := s.Environment["SLUICE_DB"]
		if !strings.HasPrefix(db, "postgres://") || !strings.Contains(db, "${POSTGRES_PASSWORD:?") {
			bad(name, "SLUICE_DB %q: want a postgres:// URL whose password is ${POSTGRES_PASSWORD:?…}", db)
		}
		port, err := listenPortOf(s.Command, s.Environment)
		if err != nil {
			bad(name, "%v", err)
		}
		if s.Healthcheck == nil {
			bad(name, "no healthcheck")
		} else if hc := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(hc, fmt.Sprintf("127.0.0.1:%d/readyz", port)) && !strings.Contains(hc, fmt.Sprintf("127.0.0.1:%d/healthz", port)) {
			bad(name, "healthcheck %q does not ask /readyz or /healthz on port %d", hc, port)
		}
		grace, err := time.ParseDuration(s.StopGracePeriod)
		if err != nil {
			bad(name, "stop_grace_period %q: %v (docker's default of 10s would cut the drain)", s.StopGracePeriod, err)
		}
		need, err := stopBudget(s.Command, s.Environment, 0)
		if err != nil {
			bad(name, "%v", err)
		} else if grace <= need {
			bad(name, "stop_grace_period %v does not exceed the %v the process may take to stop", grace, need)
		}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == "/etc/sluice/pipelines" {
				pipelinesMount[role] = parts[0] + ":" + parts[1]
			}
		}
		if k, ok := s.Environment["SLUICE_SECRET_KEY"]; ok {
			secretKey[name] = k
			if !required(k, "SLUICE_SECRET_KEY") {
				bad(name, "SLUICE_SECRET_KEY is %q: want ${SLUICE_SECRET_KEY:?…}, never a literal key", k)
			}
		}
		switch role {
		case "scheduler":
			if p, _ := flag(s.Command, s.Environment, "pipelines"); pipelinesMount[role] == "" || !strings.HasSuffix(pipelinesMount[role], ":"+p) {
				bad(name, "the pipelines folder %q is not mounted", p)
			}
		case "worker":
			if _, ok := secretKey[name]; !ok {
				bad(name, "no SLUICE_SECRET_KEY: tasks that use secrets cannot run")
			}
		case "web":
			if _, ok := secretKey[name]; !ok {
				bad(name, "no SLUICE_SECRET_KEY: secrets set in the UI cannot be sealed")
			}
			if !required(s.Environment["SLUICE_ADMIN_PASSWORD"], "SLUICE_ADMIN_PASSWORD") {
				bad(name, "SLUICE_ADMIN_PASSWORD is %q: want ${SLUICE_ADMIN_PASSWORD:?…}", s.Environment["SLUICE_ADMIN_PASSWORD"])
			}
			published := false
			for _, p := range s.Ports {
				if strings.HasSuffix(p, fmt.Sprintf(":%d", port)) {
					published = true
				}
			}
			if !published {
				bad(name, "ports %v do not publish the listen port %d", s.Ports, port)
			}
		}
	}
	for role, want := range wantCompose {
		if count[role] != want {
			problems = append(problems, fmt.Sprintf("compose: %d %s processes, want %d", count[role], role, want))
		}
	}
	if pipelinesMount["worker"] != pipelinesMount["scheduler"] {
		problems = append(problems, fmt.Sprintf("compose: workers mount %q, schedulers %q: tasks run in their pipeline file's folder, so workers need it at the same path",
			pipelinesMount["worker"], pipelinesMount["scheduler"]))
	}
	return problems
}

func checkK8s(b *bundle) []string {
	var problems []string
	bad := func(what, format string, args ...any) {
		problems = append(problems, "k8s "+what+": "+fmt.Sprintf(format, args...))
	}
	for _, role := range []string{"scheduler", "worker", "web"} {
		if b.deployments[role] == nil {
			bad(role, "no Deployment")
		}
	}
	images := map[string]bool{}
	roles := make([]string, 0, len(b.deployments))
	for role := range b.deployments {
		roles = append(roles, role)
	}
	slices.Sort(roles)
	for _, role := range roles {
		d := b.deployments[role]
		what := "deployment " + d.Metadata.Name
		pod := d.Spec.Template.Spec
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Metadata.Labels[k] != v {
				bad(what, "selector %s=%s does not match the pod's labels", k, v)
			}
		}
		if pod.SecurityContext.RunAsUser != nil && *pod.SecurityContext.RunAsUser == 0 {
			bad(what, "runAsUser 0")
		}
		for _, c := range append(append([]*container{}, pod.InitContainers...), pod.Containers...) {
			what := what + " container " + c.Name
			images[c.Image] = true
			if c.Image != image {
				bad(what, "image %q, want %q (as in compose.yaml)", c.Image, image)
			}
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					env[e.Name] = "<secret>"
					if s := b.secrets[ref.Name]; s == nil {
						bad(what, "%s from secret %q, which secret.yaml.example does not define", e.Name, ref.Name)
					} else if _, ok := s.StringData[ref.Key]; !ok {
						bad(what, "%s from key %q of secret %q, which secret.yaml.example lacks", e.Name, ref.Key, ref.Name)
					}
				}
			}
			if env["SLUICE_DB"] != "<secret>" {
				bad(what, "SLUICE_DB is not read from the Secret")
			}
			nonRoot := c.SecurityContext.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = pod.SecurityContext.RunAsNonRoot
			}
			if nonRoot == nil || !*nonRoot {
				bad(what, "runAsNonRoot is not true")
			}
			if c.SecurityContext.RunAsUser != nil && *c.SecurityContext.RunAsUser == 0 {
				bad(what, "runAsUser 0")
			}
			if p := c.SecurityContext.ReadOnlyRootFilesystem; p == nil || !*p {
				bad(what, "readOnlyRootFilesystem is not true")
			}
			if p := c.SecurityContext.AllowPrivilegeEscalation; p == nil || *p {
				bad(what, "allowPrivilegeEscalation is not false")
			}
			for _, kind := range []string{"cpu", "memory"} {
				if c.Resources.Requests[kind] == nil || c.Resources.Limits[kind] == nil {
					bad(what, "no %s request and limit", kind)
				}
			}
			port, err := listenPortOf(c.Args, env)
			if err != nil {
				bad(what, "%v", err)
			}
			portName := ""
			for _, p := range c.Ports {
				if p.ContainerPort == port {
					portName = p.Name
				}
			}
			for _, pr := range []struct {
				name, path string
				p          *probe
			}{{"startupProbe", "/healthz", c.StartupProbe}, {"livenessProbe", "/healthz", c.LivenessProbe}, {"readinessProbe", "/readyz", c.ReadinessProbe}} {
				switch {
				case pr.p == nil || pr.p.HTTPGet == nil:
					bad(what, "no %s (HTTP GET %s)", pr.name, pr.path)
				case pr.p.HTTPGet.Path != pr.path:
					bad(what, "%s asks %s, want %s", pr.name, pr.p.HTTPGet.Path, pr.path)
				case fmt.Sprint(pr.p.HTTPGet.Port) != portName && fmt.Sprint(pr.p.HTTPGet.Port) != strconv.Itoa(port):
					bad(what, "%s port %v is not the listen port %d (%q)", pr.name, pr.p.HTTPGet.Port, port, portName)
				}
			}
			var preStop time.Duration
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
				ps := c.Lifecycle.PreStop
				switch {
				case ps.Sleep != nil:
					preStop = time.Duration(ps.Sleep.Seconds) * time.Second
				case ps.Exec != nil && len(ps.Exec.Command) == 2 && ps.Exec.Command[0] == "sleep":
					n, _ := strconv.Atoi(ps.Exec.Command[1])
					preStop = time.Duration(n) * time.Second
				default:
					bad(what, "a preStop hook this test cannot time: use sleep N")
				}
			}
			need, err := stopBudget(c.Args, env, preStop)
			if err != nil {
				bad(what, "%v", err)
			}
			grace := 30 * time.Second // the Kubernetes default
			if pod.TerminationGracePeriodSeconds != nil {
				grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
			}
			if grace <= need {
				bad(what, "terminationGracePeriodSeconds %v does not exceed the %v the process may take to stop", grace, need)
			}
			if role == "scheduler" || role == "worker" {
				// Workers need the files where the schedulers load them.
				p, _ := flag(c.Args, env, "pipelines")
				if s := b.deployments["scheduler"]; role == "worker" && s != nil {
					sc := s.Spec.Template.Spec.Containers[0]
					p, _ = flag(sc.Args, envOf(sc), "pipelines")
				}
				if !mountsConfigMap(pod, c, p, b.configMaps) {
					bad(what, "the pipelines ConfigMap is not mounted at %q (schedulers load it; workers run tasks in it)", p)
				}
			}
		}
	}
	if len(images) > 1 {
		bad("images", "%d different images, want one for every role", len(images))
	}
	if strings.HasSuffix(image, ":latest") || !strings.Contains(image, ":") {
		bad("images", "%q: pin a version, or a roll cannot tell old from new", image)
	}
	if w := b.deployments["worker"]; w != nil {
		found := false
		for _, p := range b.pdbs {
			if matches(p.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels) {
				found = true
				if p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil {
					bad("pdb "+p.Metadata.Name, "neither maxUnavailable nor minAvailable")
				}
			}
		}
		if !found {
			bad("worker", "no PodDisruptionBudget selects the workers")
		}
	}
	if web := b.deployments["web"]; web != nil {
		found := false
		for _, s := range b.services {
			if !matches(s.Spec.Selector, web.Spec.Template.Metadata.Labels) {
				continue
			}
			found = true
			for _, p := range s.Spec.Ports {
				ok := false
				for _, cp := range web.Spec.Template.Spec.Containers[0].Ports {
					if fmt.Sprint(p.TargetPort) == cp.Name || fmt.Sprint(p.TargetPort) == strconv.Itoa(cp.ContainerPort) {
						ok = true
					}
				}
				if !ok {
					bad("service "+s.Metadata.Name, "targetPort %v is no port of the web container", p.TargetPort)
				}
			}
		}
		if !found {
			bad("web", "no Service selects the web pods")
		}
	}
	for name, cm := range b.configMaps {
		for key := range cm.Data {
			if !strings.HasSuffix(key, ".yaml") && !strings.HasSuffix(key, ".yml") {
				bad("configmap "+name, "key %q: the scheduler loads only *.yaml and *.yml files", key)
			}
		}
	}
	return problems
}

// envOf returns a container's literal environment values.
func envOf(c *container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func mountsConfigMap(pod podSpec, c *container, path string, cms map[string]*configMap) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && cms[v.ConfigMap.Name] != nil {
				return true
			}
		}
	}
	return false
}

// matches reports whether a selector selects pods with these labels.
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func check(b *bundle) []string {
	return slices.Concat(checkDockerfile(b.dockerfile), checkCompose(b.compose), checkK8s(b), checkRBAC(b.rbac))
}

// --- the tests ---

func TestDeployFilesHoldInvariants(t *testing.T) {
	t.Parallel()
	b := load(t)
	for _, p := range check(b) {
		t.Error(p)
	}
	if t.Failed() {
		return
	}
	t.Logf("compose: %v; k8s: %d deployments; grace periods cover the drain", wantCompose, len(b.deployments))
}

// TestDeployChecksCatchBreakage breaks each invariant in a fresh parse of
// the files and expects the checks to say so: a check that cannot fail
// protects nothing.
func TestDeployChecksCatchBreakage(t *testing.T) {
	t.Parallel()
	worker := func(b *bundle) *container { return b.deployments["worker"].Spec.Template.Spec.Containers[0] }
	web := func(b *bundle) *container { return b.deployments["web"].Spec.Template.Spec.Containers[0] }
	setEnv := func(c *container, name, value string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i].Value = value
				return
			}
		}
		panic("no env " + name)
	}
	for _, tc := range []struct {
		name   string
		mutate func(b *bundle)
		want   string
	}{
		{"readiness on /healthz", func(b *bundle) { worker(b).ReadinessProbe.HTTPGet.Path = "/healthz" }, "readinessProbe asks /healthz, want /readyz"},
		{"liveness on /readyz", func(b *bundle) { web(b).LivenessProbe.HTTPGet.Path = "/readyz" }, "livenessProbe asks /readyz, want /healthz"},
		{"no startup probe", func(b *bundle) { worker(b).StartupProbe = nil }, "no startupProbe"},
		{"probe on another port", func(b *bundle) { web(b).ReadinessProbe.HTTPGet.Port = 9090 }, "is not the listen port"},
		{"listen on loopback", func(b *bundle) { setEnv(worker(b), "SLUICE_LISTEN", "127.0.0.1:8080") }, "want :PORT"},
		{"worker grace shorter than its drain", func(b *bundle) {
			g := 45
			b.deployments["worker"].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds 45s does not exceed the 50s"},
		{"longer drain, same grace", func(b *bundle) { setEnv(worker(b), "SLUICE_DRAIN_TIMEOUT", "2m") }, "does not exceed the 2m20s"},
		{"web preStop longer than its grace", func(b *bundle) { web(b).Lifecycle.PreStop.Exec.Command[1] = "25" }, "does not exceed the 35s"},
		{"root", func(b *bundle) {
			f := false
			b.deployments["scheduler"].Spec.Template.Spec.SecurityContext.RunAsNonRoot = &f
		}, "runAsNonRoot is not true"},
		{"writable root", func(b *bundle) { web(b).SecurityContext.ReadOnlyRootFilesystem = nil }, "readOnlyRootFilesystem is not true"},
		{"no limits", func(b *bundle) { worker(b).Resources.Limits = nil }, "no cpu request and limit"},
		{"another image", func(b *bundle) { web(b).Image = "ghcr.io/sluice-dev/sluice:0.2.0" }, "images: 2 different images"},
		{"no worker PDB", func(b *bundle) { b.pdbs = b.pdbs[:0] }, "no PodDisruptionBudget selects the workers"},
		{"workers without the pipelines", func(b *bundle) { worker(b).VolumeMounts = worker(b).VolumeMounts[1:] }, "pipelines ConfigMap is not mounted"},
		{"secret key missing from the template", func(b *bundle) { delete(b.secrets["sluice"].StringData, "secret-key") }, `key "secret-key"`},
		{"compose: two workers", func(b *bundle) {
			n := 2
			b.compose.Services["worker"].Deploy.Replicas = &n
		}, "compose: 2 worker processes, want 3"},
		{"compose: one scheduler", func(b *bundle) { b.compose.Services["scheduler"].Deploy.Replicas = nil }, "compose: 1 scheduler processes, want 2"},
		{"compose: docker's 10s stop", func(b *bundle) { b.compose.Services["worker"].StopGracePeriod = "10s" }, "stop_grace_period 10s does not exceed the 50s"},
		{"compose: no grace", func(b *bundle) { b.compose.Services["worker"].StopGracePeriod = "" }, "stop_grace_period \"\""},
		{"compose: healthcheck elsewhere", func(b *bundle) { b.compose.Services["web"].Healthcheck.Test = []string{"CMD", "true"} }, "does not ask /readyz or /healthz"},
		{"compose: root", func(b *bundle) { b.compose.Services["worker"].User = "0" }, "user \"0\""},
		{"compose: start before the database", func(b *bundle) { b.compose.Services["web"].DependsOn = nil }, "without condition: service_healthy"},
		{"compose: literal secret key", func(b *bundle) {
			b.compose.Services["web"].Environment["SLUICE_SECRET_KEY"] = "c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1sb25nLXh4eHg="
		}, "never a literal key"},
		{"compose: literal admin password", func(b *bundle) { b.compose.Services["web"].Environment["SLUICE_ADMIN_PASSWORD"] = "hunter22" }, "SLUICE_ADMIN_PASSWORD is \"hunter22\""},
		{"compose: another image", func(b *bundle) { b.compose.Services["scheduler"].Image = "sluice:dev" }, "differs from another sluice service"},
		{"compose: web not published", func(b *bundle) { b.compose.Services["web"].Ports = nil }, "do not publish the listen port"},
		{"compose: workers without the pipelines", func(b *bundle) { b.compose.Services["worker"].Volumes = nil }, "workers mount"},
		{"image as root", func(b *bundle) { b.dockerfile = replaceLine(b.dockerfile, "USER ", "USER root") }, "want a numeric non-root uid"},
		{"image without a shell", func(b *bundle) {
			b.dockerfile = replaceLine(b.dockerfile, "FROM ", "FROM gcr.io/distroless/static-debian12:nonroot")
		}, "has no /bin/sh"},
		{"role without logs", func(b *bundle) { b.rbac.roles[0].Rules = b.rbac.roles[0].Rules[:1] }, "Role sluice-worker does not grant get pods/log"},
		{"role in another API group", func(b *bundle) { b.rbac.roles[0].Rules[0].APIGroups = []string{"apps"} }, "does not grant create pods"},
		{"cluster role without secrets", func(b *bundle) { b.rbac.clusterRoles[0].Rules = b.rbac.clusterRoles[0].Rules[:2] }, "ClusterRole sluice-worker (commented) does not grant create secrets"},
		{"binding to another account", func(b *bundle) { b.rbac.roleBindings[0].Subjects[0].Name = "default" }, "binds no ServiceAccount of this file"},
		{"binding to another role", func(b *bundle) { b.rbac.roleBindings[0].RoleRef.Name = "edit" }, "binds Role edit, which this file does not define"},
		{"image stops on SIGKILL", func(b *bundle) { b.dockerfile = replaceLine(b.dockerfile, "STOPSIGNAL ", "STOPSIGNAL SIGKILL") }, "STOPSIGNAL must be SIGTERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := load(t)
			tc.mutate(b)
			problems := check(b)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", tc.want, problems)
		})
	}
}

func replaceLine(lines []string, prefix, with string) []string {
	out := slices.Clone(lines)
	for i, l := range out {
		if strings.HasPrefix(l, prefix) {
			out[i] = with
		}
	}
	return out
}
