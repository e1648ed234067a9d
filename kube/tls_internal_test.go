package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfSigned is the PEM of a CA certificate that signed nothing here.
func selfSigned(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestKubeconfigVerifiesTheServer: the API server's certificate is
// checked as kubectl checks it: against the cluster's CA when it names
// one, against the system's roots when not (never skipped for want of a
// CA), and not at all only with insecure-skip-tls-verify, which kubectl
// refuses beside a CA ("specifying a root certificates file with the
// insecure flag is not allowed"): a CA there would look like protection
// that is not there.
func TestKubeconfigVerifiesTheServer(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	s := newAPIServer(t)
	otherCA := selfSigned(t)
	dir := t.TempDir()
	cluster := func(name, fields string) string {
		return write(t, filepath.Join(dir, name), `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "`+s.URL+`"`+fields+`}}]
users: [{name: u, user: {token: t}}]
`)
	}
	ping := func(path string) error {
		c, err := Open(Config{Kubeconfig: path})
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Ping(context.Background())
	}
	if err := ping(cluster("ca", `, certificate-authority-data: "`+b64(s.ca)+`"`)); err != nil {
		t.Fatalf("with the server's CA: %v", err)
	}
	if err := ping(cluster("wrong-ca", `, certificate-authority-data: "`+b64(otherCA)+`"`)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with another CA: %v", err)
	}
	if err := ping(cluster("no-ca", ``)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with no CA (system roots): %v", err)
	}
	if err := ping(cluster("wrong-name", `, certificate-authority-data: "`+b64(s.ca)+`", tls-server-name: kubernetes.example`)); err == nil || !strings.Contains(err.Error(), "kubernetes.example") {
		t.Fatalf("with a tls-server-name the certificate does not hold: %v", err)
	}
	if err := ping(cluster("insecure", `, insecure-skip-tls-verify: true`)); err != nil {
		t.Fatalf("insecure-skip-tls-verify: %v", err)
	}
	_, err := Open(Config{Kubeconfig: cluster("insecure-ca", `, insecure-skip-tls-verify: true, certificate-authority-data: "`+b64(otherCA)+`"`)})
	if err == nil || !strings.Contains(err.Error(), "insecure-skip-tls-verify") {
		t.Fatalf("insecure-skip-tls-verify with a CA: %v", err)
	}
}

// TestNoCredentialsOnRedirect: a redirect away from the API server (to
// another scheme, host or port) is not followed. net/http would follow it
// and, the host name being the same, send the bearer token along, in
// clear to an http:// URL.
func TestNoCredentialsOnRedirect(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	var mu sync.Mutex
	leaked := ""
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked += r.Header.Get("Authorization")
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer plain.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/moved/") {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		to := plain.URL
		if r.URL.Path == "/same" {
			to = "/moved"
		}
		http.Redirect(w, r, to+"/version", http.StatusFound)
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := write(t, filepath.Join(dir, "config"), `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "`+srv.URL+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: s3cr3t}}]
`)
	c, err := Open(Config{Kubeconfig: path})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(context.Background())
	mu.Lock()
	got := leaked
	mu.Unlock()
	if got != "" || err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("redirect to %s: err %v, credentials it received %q", plain.URL, err, got)
	}
	if err := c.api.do(context.Background(), http.MethodGet, "/same", nil, nil, nil); err != nil {
		t.Fatalf("a redirect on the API server itself: %v", err)
	}
}

// TestExecPluginThatHangs: an exec plugin that never answers fails the
// request after execTimeout, even when a child of it holds its stdout
// open, instead of holding every request to the API server (they wait
// for the plugin's lock) forever.
func TestExecPluginThatHangs(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	old := execTimeout
	execTimeout = 300 * time.Millisecond
	t.Cleanup(func() { execTimeout = old })
	s := newAPIServer(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ca.crt"), s.ca)
	// sh waits for sleep, which keeps the stdout pipe open when sh is
	// killed.
	write(t, filepath.Join(dir, "bin", "plugin"), "#!/bin/sh\nsleep 20\n")
	c, err := Open(Config{Kubeconfig: write(t, filepath.Join(dir, "config"), kubeconfigText(s.URL,
		"    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./bin/plugin\n"))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Ping(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no answer") {
			t.Fatalf("ping: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the request still waits for the plugin")
	}
}

// TestErrorOfAnHTMLPage: an answer that is not a Status (a proxy's or
// load balancer's error page) gives an error of its code and the start of
// its body, as client-go's (2 KiB), not the whole page: the error goes
// into the attempt's error text and the worker's log.
func TestErrorOfAnHTMLPage(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	page := "<html>" + strings.Repeat("bad gateway ", 20_000) + "</html>"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()
	c, err := Open(Config{Kubeconfig: write(t, filepath.Join(t.TempDir(), "config"), `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "`+srv.URL+`"}}]
users: [{name: u, user: {token: t}}]
`)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.get(context.Background(), "ns", "pods", "p", nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status.Code != http.StatusBadGateway || !strings.Contains(err.Error(), "<html>bad gateway") || len(err.Error()) > 2500 {
		t.Fatalf("%d bytes of error: %.300s", len(err.Error()), err)
	}
}

// TestExecPluginClusterInfo: with provideClusterInfo, a plugin is told
// the cluster as client-go tells it: its server and CA (plugins such as
// Pinniped's talk to the cluster with them) and proxy-url.
func TestExecPluginClusterInfo(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	s := newAPIServer(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ca.crt"), s.ca)
	info := filepath.Join(dir, "info.json")
	write(t, filepath.Join(dir, "bin", "plugin"), `#!/bin/sh
printf '%s' "$KUBERNETES_EXEC_INFO" > `+info+`
echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'
`)
	cfg := strings.Replace(kubeconfigText(s.URL, "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ./bin/plugin\n      provideClusterInfo: true\n"),
		"    certificate-authority: ca.crt\n", "    certificate-authority: ca.crt\n    proxy-url: http://127.0.0.1:1\n", 1)
	t.Setenv("NO_PROXY", "")
	c, err := Open(Config{Kubeconfig: write(t, filepath.Join(dir, "config"), cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.api.auth.exec.get(context.Background())
	b, err := os.ReadFile(info)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Spec struct {
			Cluster map[string]any `json:"cluster"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	cl := got.Spec.Cluster
	if cl["server"] != s.URL || cl["certificate-authority-data"] != b64(s.ca) || cl["proxy-url"] != "http://127.0.0.1:1" {
		t.Fatalf("exec info %s", b)
	}
}

// TestServerPasswordNotShown: a password in the server's URL (user:pw@)
// is not in what Server and Ping's error show.
func TestServerPasswordNotShown(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there
	old := unreachableFor
	unreachableFor = 0
	t.Cleanup(func() { unreachableFor = old })
	c, err := Open(Config{Kubeconfig: write(t, filepath.Join(t.TempDir(), "config"), `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://me:s3cr3t@`+addr+`"}}]
users: [{name: u, user: {}}]
`)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(context.Background())
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(c.Server(), "s3cr3t") || !strings.Contains(c.Server(), addr) {
		t.Fatalf("server %q, ping: %v", c.Server(), err)
	}
}
