package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file finds the cluster and credentials as kubectl does, for the
// common cases, without client-go (see rest.go for why): a kubeconfig
// file (its current context's cluster, user and namespace) or a Pod's
// in-cluster service account. Not supported, with an error that says so:
// auth-provider users (client-go itself supports only oidc there now;
// exec plugins replaced them) and impersonation (as:, as-groups:).

// The service account files of a Pod, as client-go's InClusterConfig
// reads them.
var serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// connection is where and how to reach the API server.
type connection struct {
	host   string // https://host:port, no trailing slash
	tls    *tls.Config
	proxy  func(*http.Request) (*url.URL, error)
	auth   *credentials
	source string
	ns     string // the context's (or service account's) namespace
	// caData and proxyURL are the cluster's, for an exec plugin's
	// provideClusterInfo.
	caData, proxyURL string
}

// findConnection finds the cluster's configuration as kubectl and
// client-go programs do: path, else the in-cluster service account, else
// the files of $KUBECONFIG (the first that sets an item wins, as kubectl
// merges them), else ~/.kube/config. It says where it came from.
func findConnection(path string) (*connection, error) {
	if path != "" {
		return fromKubeconfig([]string{path}, path, true)
	}
	if host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"); host != "" && port != "" {
		if c, err := inCluster(host, port); err == nil {
			return c, nil
		}
	}
	var files []string
	if env := os.Getenv("KUBECONFIG"); env != "" {
		for _, f := range filepath.SplitList(env) {
			if f != "" {
				files = append(files, f)
			}
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		files = []string{filepath.Join(home, ".kube", "config")}
	}
	var found []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			found = append(found, f)
		}
	}
	if len(found) == 0 {
		return nil, ErrNotConfigured
	}
	source := found[0]
	if os.Getenv("KUBECONFIG") != "" {
		source = "$KUBECONFIG (" + strings.Join(found, string(filepath.ListSeparator)) + ")"
	}
	return fromKubeconfig(found, source, false)
}

// inCluster is the configuration of a Pod's service account. The token
// file is read again as it changes (the kubelet rotates it).
func inCluster(host, port string) (*connection, error) {
	token := filepath.Join(serviceAccountDir, "token")
	if _, err := os.ReadFile(token); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	pem, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	if cfg.RootCAs, err = certPool(pem); err != nil {
		return nil, err
	}
	ns, _ := os.ReadFile(filepath.Join(serviceAccountDir, "namespace"))
	return &connection{
		host: "https://" + net.JoinHostPort(host, port), tls: cfg, proxy: http.ProxyFromEnvironment,
		auth: &credentials{tokenFile: token}, source: "the in-cluster service account", ns: strings.TrimSpace(string(ns)),
	}, nil
}

// kubeconfig is the part of a kubeconfig file sluice reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string         `yaml:"name"`
		Cluster map[string]any `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string         `yaml:"name"`
		User map[string]any `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// item is a cluster or user of a kubeconfig file, and the folder of its
// file, which its relative paths are relative to.
type item struct {
	fields map[string]any
	dir    string
}

func (it item) str(key string) string {
	s, _ := it.fields[key].(string)
	return s
}

// path is a file named by the item, relative to its kubeconfig's folder.
func (it item) path(key string) string {
	p := it.str(key)
	if p != "" && !filepath.IsAbs(p) {
		p = filepath.Join(it.dir, p)
	}
	return p
}

func (it item) data(key string) ([]byte, error) {
	s := it.str(key)
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

// fileOrData reads key-data, else the file key names.
func (it item) fileOrData(key string) ([]byte, error) {
	if b, err := it.data(key + "-data"); err != nil || b != nil {
		return b, err
	}
	if p := it.path(key); p != "" {
		return os.ReadFile(p)
	}
	return nil, nil
}

func fromKubeconfig(files []string, source string, explicit bool) (*connection, error) {
	fail := func(err error) (*connection, error) {
		return nil, fmt.Errorf("kube: kubeconfig %s: %w", source, err)
	}
	current := ""
	clusters, users := map[string]item{}, map[string]item{}
	type context struct{ cluster, user, namespace string }
	contexts := map[string]context{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if explicit {
				return fail(err)
			}
			continue
		}
		var kc kubeconfig
		if err := yaml.Unmarshal(b, &kc); err != nil {
			return fail(fmt.Errorf("%s: %w", f, err))
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			abs = f
		}
		dir := filepath.Dir(abs)
		if current == "" {
			current = kc.CurrentContext
		}
		// The first file that names an item wins, as kubectl merges.
		for _, c := range kc.Clusters {
			if _, ok := clusters[c.Name]; !ok {
				clusters[c.Name] = item{c.Cluster, dir}
			}
		}
		for _, u := range kc.Users {
			if _, ok := users[u.Name]; !ok {
				users[u.Name] = item{u.User, dir}
			}
		}
		for _, c := range kc.Contexts {
			if _, ok := contexts[c.Name]; !ok {
				contexts[c.Name] = context{c.Context.Cluster, c.Context.User, c.Context.Namespace}
			}
		}
	}
	if current == "" {
		return fail(errors.New("no current-context is set: set one with kubectl config use-context NAME"))
	}
	ctx, ok := contexts[current]
	if !ok {
		return fail(fmt.Errorf("context %q (the current-context) is not defined", current))
	}
	cluster, ok := clusters[ctx.cluster]
	if !ok {
		return fail(fmt.Errorf("cluster %q of context %q is not defined", ctx.cluster, current))
	}
	user := users[ctx.user] // none is no credentials
	if user.fields == nil {
		user = item{fields: map[string]any{}}
	}
	c := &connection{source: source, ns: ctx.namespace, proxy: http.ProxyFromEnvironment}
	server := cluster.str("server")
	if server == "" {
		return fail(fmt.Errorf("cluster %q has no server", ctx.cluster))
	}
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	c.host = strings.TrimRight(server, "/")
	if p := cluster.str("proxy-url"); p != "" {
		c.proxyURL = p
		u, err := url.Parse(p)
		if err != nil {
			return fail(fmt.Errorf("cluster %q proxy-url: %w", ctx.cluster, err))
		}
		c.proxy = http.ProxyURL(u)
	}
	c.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cluster.str("tls-server-name")}
	if skip, _ := cluster.fields["insecure-skip-tls-verify"].(bool); skip {
		c.tls.InsecureSkipVerify = true
	}
	ca, err := cluster.fileOrData("certificate-authority")
	if err != nil {
		return fail(fmt.Errorf("cluster %q: %w", ctx.cluster, err))
	}
	if ca != nil && c.tls.InsecureSkipVerify {
		// As kubectl (client-go's transport): a CA beside it would look
		// like a check that is not made.
		return fail(fmt.Errorf("cluster %q sets both insecure-skip-tls-verify and a certificate-authority, which kubectl refuses too: remove one", ctx.cluster))
	}
	if ca != nil {
		c.caData = base64.StdEncoding.EncodeToString(ca)
		if c.tls.RootCAs, err = certPool(ca); err != nil {
			return fail(fmt.Errorf("cluster %q certificate-authority: %w", ctx.cluster, err))
		}
	}
	if c.auth, err = userCredentials(ctx.user, user, c); err != nil {
		return fail(err)
	}
	return c, nil
}

func certPool(pem []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificates in it")
	}
	return pool, nil
}

// userCredentials reads a kubeconfig user: a token (or token file), a
// client certificate, a username and password, or an exec plugin.
func userCredentials(name string, u item, c *connection) (*credentials, error) {
	for _, k := range []string{"auth-provider", "as", "as-uid", "as-groups", "as-user-extra"} {
		if _, ok := u.fields[k]; ok {
			what := "impersonation (" + k + ")"
			if k == "auth-provider" {
				what = "auth-provider"
				if ap, ok := u.fields[k].(map[string]any); ok {
					what = fmt.Sprintf("auth-provider %v", ap["name"])
				}
				return nil, fmt.Errorf("user %q uses %s, which sluice does not support: use an exec credential plugin instead (e.g. kubelogin, gke-gcloud-auth-plugin)", name, what)
			}
			return nil, fmt.Errorf("user %q uses %s, which sluice does not support", name, what)
		}
	}
	cr := &credentials{token: u.str("token"), username: u.str("username"), password: u.str("password")}
	if cr.token == "" {
		cr.tokenFile = u.path("tokenFile")
	}
	cert, err := u.fileOrData("client-certificate")
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	key, err := u.fileOrData("client-key")
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	if cert != nil || key != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("user %q client certificate: %w", name, err)
		}
		c.tls.Certificates = []tls.Certificate{pair}
	}
	if e, ok := u.fields["exec"].(map[string]any); ok {
		if cr.exec, err = newExecPlugin(name, e, u.dir, c); err != nil {
			return nil, err
		}
		c.tls.GetClientCertificate = cr.exec.clientCertificate
	}
	return cr, nil
}

// credentials add a request's authentication.
type credentials struct {
	token              string
	tokenFile          string
	username, password string
	exec               *execPlugin

	mu        sync.Mutex
	fileToken string
	readAt    time.Time
}

// apply sets r's Authorization.
func (cr *credentials) apply(r *http.Request) error {
	switch {
	case cr.exec != nil:
		cred, err := cr.exec.get(r.Context())
		if err != nil {
			return err
		}
		if cred.Token != "" {
			r.Header.Set("Authorization", "Bearer "+cred.Token)
		}
	case cr.token != "":
		r.Header.Set("Authorization", "Bearer "+cr.token)
	case cr.tokenFile != "":
		t, err := cr.readTokenFile()
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", "Bearer "+t)
	case cr.username != "" || cr.password != "":
		r.SetBasicAuth(cr.username, cr.password)
	}
	return nil
}

// readTokenFile reads the token file at most once a minute, as client-go
// does: a rotated token is used within a minute.
func (cr *credentials) readTokenFile() (string, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.fileToken != "" && time.Since(cr.readAt) < time.Minute {
		return cr.fileToken, nil
	}
	b, err := os.ReadFile(cr.tokenFile)
	if err != nil {
		if cr.fileToken != "" {
			return cr.fileToken, nil // keep the last one while the file is being replaced
		}
		return "", fmt.Errorf("token file: %w", err)
	}
	cr.fileToken, cr.readAt = strings.TrimSpace(string(b)), time.Now()
	return cr.fileToken, nil
}

// unauthorized drops what an exec plugin gave, after the API server
// refused it, so that the next request runs the plugin again.
func (cr *credentials) unauthorized() bool {
	if cr.exec == nil {
		return false
	}
	return cr.exec.forget()
}

// execTimeout bounds one run of an exec plugin: it has no terminal to
// wait on (interactiveMode Always is refused), and while it runs every
// request waits for its answer.
var execTimeout = time.Minute

// execPlugin runs a kubeconfig user's exec credential plugin
// (client.authentication.k8s.io/v1 or v1beta1) and keeps its answer
// until its expirationTimestamp.
type execPlugin struct {
	user        string
	command     string
	args        []string
	env         []string
	apiVersion  string
	installHint string
	cluster     map[string]any // for provideClusterInfo
	conn        *connection

	mu      sync.Mutex
	cred    *execCredential
	certFor *execCredential // the credential c.tls's certificate came from
	cert    *tls.Certificate
}

type execCredential struct {
	Token                 string     `json:"token"`
	ClientCertificateData string     `json:"clientCertificateData"`
	ClientKeyData         string     `json:"clientKeyData"`
	ExpirationTimestamp   *time.Time `json:"expirationTimestamp"`
}

func newExecPlugin(user string, e map[string]any, dir string, c *connection) (*execPlugin, error) {
	p := &execPlugin{user: user, conn: c}
	p.command, _ = e["command"].(string)
	p.apiVersion, _ = e["apiVersion"].(string)
	p.installHint, _ = e["installHint"].(string)
	if p.command == "" {
		return nil, fmt.Errorf("user %q exec: no command", user)
	}
	switch p.apiVersion {
	case "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1":
	default:
		return nil, fmt.Errorf("user %q exec: apiVersion %q is not supported (client.authentication.k8s.io/v1 or v1beta1)", user, p.apiVersion)
	}
	if mode, _ := e["interactiveMode"].(string); mode == "Always" {
		return nil, fmt.Errorf("user %q exec: interactiveMode Always needs a terminal, which a sluice worker does not have", user)
	}
	// As kubectl: a command with a path separator is relative to the
	// kubeconfig's folder; a bare name is looked up in $PATH.
	if !filepath.IsAbs(p.command) && strings.ContainsRune(p.command, filepath.Separator) {
		p.command = filepath.Join(dir, p.command)
	}
	if args, ok := e["args"].([]any); ok {
		for _, a := range args {
			p.args = append(p.args, fmt.Sprint(a))
		}
	}
	if env, ok := e["env"].([]any); ok {
		for _, v := range env {
			if m, ok := v.(map[string]any); ok {
				p.env = append(p.env, fmt.Sprintf("%v=%v", m["name"], m["value"]))
			}
		}
	}
	if provide, _ := e["provideClusterInfo"].(bool); provide {
		// As client-go's clientauthentication Cluster: empty fields left out.
		p.cluster = map[string]any{"server": c.host}
		for k, v := range map[string]string{"tls-server-name": c.tls.ServerName, "certificate-authority-data": c.caData, "proxy-url": c.proxyURL} {
			if v != "" {
				p.cluster[k] = v
			}
		}
		if c.tls.InsecureSkipVerify {
			p.cluster["insecure-skip-tls-verify"] = true
		}
	}
	return p, nil
}

// get returns the plugin's credential, running it when there is none or
// it expired.
func (p *execPlugin) get(ctx context.Context) (*execCredential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cred != nil && (p.cred.ExpirationTimestamp == nil || time.Now().Before(*p.cred.ExpirationTimestamp)) {
		return p.cred, nil
	}
	info := map[string]any{"apiVersion": p.apiVersion, "kind": "ExecCredential", "spec": map[string]any{"interactive": false}}
	if p.cluster != nil {
		info["spec"].(map[string]any)["cluster"] = p.cluster
	}
	infoJSON, _ := json.Marshal(info)
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.command, p.args...)
	cmd.Env = append(append(os.Environ(), p.env...), "KUBERNETES_EXEC_INFO="+string(infoJSON))
	// A child of a killed plugin may hold its stdout open: Wait gives up
	// on it after this.
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("user %q exec plugin %s: %v", p.user, p.command, err)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = fmt.Sprintf("user %q exec plugin %s: no answer in %s", p.user, p.command, execTimeout)
		}
		// Its own words, as kubectl shows them, but not pages of them.
		if s := strings.TrimSpace(stderr.String()); s != "" {
			if len(s) > 1024 {
				s = s[:1024] + "…"
			}
			msg += ": " + s
		}
		if p.installHint != "" && errors.Is(err, exec.ErrNotFound) {
			msg += "\n" + p.installHint
		}
		return nil, errors.New(msg)
	}
	var out struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Status     *execCredential `json:"status"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("user %q exec plugin %s: its output is not an ExecCredential: %w", p.user, p.command, err)
	}
	if out.Status == nil || (out.Status.Token == "" && out.Status.ClientCertificateData == "") {
		return nil, fmt.Errorf("user %q exec plugin %s: its ExecCredential has no status.token nor client certificate", p.user, p.command)
	}
	if out.APIVersion != p.apiVersion {
		return nil, fmt.Errorf("user %q exec plugin %s: it answered %s, not %s", p.user, p.command, out.APIVersion, p.apiVersion)
	}
	p.cred = out.Status
	return p.cred, nil
}

// forget drops the credential; it reports whether there was one.
func (p *execPlugin) forget() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	had := p.cred != nil
	p.cred = nil
	return had
}

// clientCertificate gives the TLS handshake the plugin's certificate,
// when it gives one.
func (p *execPlugin) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	cred, err := p.get(context.Background())
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cred.ClientCertificateData == "" {
		if len(p.conn.tls.Certificates) > 0 {
			return &p.conn.tls.Certificates[0], nil
		}
		return &tls.Certificate{}, nil
	}
	if p.certFor != cred {
		pair, err := tls.X509KeyPair([]byte(cred.ClientCertificateData), []byte(cred.ClientKeyData))
		if err != nil {
			return nil, fmt.Errorf("user %q exec plugin's client certificate: %w", p.user, err)
		}
		p.cert, p.certFor = &pair, cred
	}
	return p.cert, nil
}

// KubeconfigPath is the kubeconfig file Open would read with no
// --kubeconfig and no in-cluster service account: the first file of
// $KUBECONFIG that exists, else ~/.kube/config when it exists, else "".
func KubeconfigPath() string {
	var files []string
	if env := os.Getenv("KUBECONFIG"); env != "" {
		files = filepath.SplitList(env)
	} else if home, err := os.UserHomeDir(); err == nil {
		files = []string{filepath.Join(home, ".kube", "config")}
	}
	for _, f := range files {
		if _, err := os.Stat(f); f != "" && err == nil {
			return f
		}
	}
	return ""
}
