package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiServer is a TLS server that records the Authorization header of
// each request and answers /version, and 401 to the token "expired".
type apiServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
	ca    string // PEM
}

func newAPIServer(t *testing.T) *apiServer {
	s := &apiServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if r.Header.Get("Authorization") == "Bearer expired" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"kind":"Status","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
			return
		}
		if r.URL.Path == "/api/v1/namespaces/x/pods/gone" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","status":"Failure","message":"pods \"gone\" not found","reason":"NotFound","code":404}`))
			return
		}
		_, _ = w.Write([]byte(`{"major":"1"}`))
	}))
	t.Cleanup(s.Close)
	s.ca = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
	return s
}

func (s *apiServer) lastAuth() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.auths) == 0 {
		return ""
	}
	return s.auths[len(s.auths)-1]
}

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func kubeconfigText(server, user string) string {
	return `apiVersion: v1
kind: Config
current-context: main
contexts:
- name: main
  context: {cluster: c, user: u, namespace: team}
clusters:
- name: c
  cluster:
    server: ` + server + `
    certificate-authority: ca.crt
users:
- name: u
  user:
` + user
}

// TestKubeconfig: a kubeconfig's cluster, CA file (relative to the
// file's folder), namespace and credentials reach the API server: a
// token, a token file read again when it changes, basic auth, and an exec
// plugin whose credential is kept until it expires and run again after a
// 401.
func TestKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	s := newAPIServer(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cfg", "ca.crt"), s.ca)
	ping := func(path string) (*Client, error) {
		t.Helper()
		c, err := Open(Config{Kubeconfig: path})
		if err != nil {
			return nil, err
		}
		t.Cleanup(c.Close)
		return c, c.Ping(context.Background())
	}

	path := write(t, filepath.Join(dir, "cfg", "token"), kubeconfigText(s.URL, "    token: abc\n"))
	c, err := ping(path)
	if err != nil || s.lastAuth() != "Bearer abc" || c.Namespace() != "team" || c.Source() != path || c.Server() != s.URL {
		t.Fatalf("token: err %v, auth %q, namespace %q, source %q", err, s.lastAuth(), c.Namespace(), c.Source())
	}
	err = c.get(context.Background(), "x", "pods", "gone", nil)
	if !isNotFound(err) || clean(err).Error() != `pods "gone" not found` {
		t.Fatalf("not found: %v", err)
	}

	write(t, filepath.Join(dir, "cfg", "tok"), "first\n")
	if _, err := ping(write(t, filepath.Join(dir, "cfg", "tokenfile"), kubeconfigText(s.URL, "    tokenFile: tok\n"))); err != nil || s.lastAuth() != "Bearer first" {
		t.Fatalf("tokenFile: err %v, auth %q", err, s.lastAuth())
	}

	if _, err := ping(write(t, filepath.Join(dir, "cfg", "basic"), kubeconfigText(s.URL, "    username: me\n    password: pw\n"))); err != nil || s.lastAuth() != "Basic bWU6cHc=" {
		t.Fatalf("basic: err %v, auth %q", err, s.lastAuth())
	}

	// The plugin counts its runs; the first answer expires at once, the
	// second is "expired" to the server (401), the third is good for an
	// hour.
	runs := filepath.Join(dir, "runs")
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	write(t, filepath.Join(dir, "cfg", "bin", "plugin"), `#!/bin/sh
echo run >> `+runs+`
n=$(wc -l < `+runs+`)
case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "no exec info" >&2; exit 1;; esac
case $n in
1) echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t1","expirationTimestamp":"`+past+`"}}' ;;
2) echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"expired","expirationTimestamp":"`+future+`"}}' ;;
*) echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t3-'$FLAVOR'","expirationTimestamp":"`+future+`"}}' ;;
esac
`)
	execUser := "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./bin/plugin\n      env: [{name: FLAVOR, value: mint}]\n      interactiveMode: Never\n"
	c, err = ping(write(t, filepath.Join(dir, "cfg", "exec"), kubeconfigText(s.URL, execUser)))
	if err != nil || s.lastAuth() != "Bearer t1" {
		t.Fatalf("exec: err %v, auth %q", err, s.lastAuth())
	}
	// t1 expired: the plugin runs again, its token gets a 401, it runs a
	// third time.
	if err := c.Ping(context.Background()); err != nil || s.lastAuth() != "Bearer t3-mint" {
		t.Fatalf("exec after expiry: err %v, auth %q", err, s.lastAuth())
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(runs)
	if n := strings.Count(string(b), "run"); n != 3 {
		t.Fatalf("the plugin ran %d times, want 3 (its last token is good for an hour)", n)
	}

	_, err = Open(Config{Kubeconfig: write(t, filepath.Join(dir, "cfg", "ap"), kubeconfigText(s.URL, "    auth-provider: {name: gcp}\n"))})
	if err == nil || !strings.Contains(err.Error(), "auth-provider gcp, which sluice does not support") {
		t.Fatalf("auth-provider: %v", err)
	}
	_, err = Open(Config{Kubeconfig: filepath.Join(dir, "none")})
	if err == nil || !strings.Contains(err.Error(), "kube: kubeconfig "+filepath.Join(dir, "none")) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestKubeconfigSources: $KUBECONFIG's files merge as kubectl merges
// them (the first to name an item wins, missing files are skipped), the
// in-cluster service account comes before them, and with none of them
// there is no cluster.
func TestKubeconfigSources(t *testing.T) {
	s := newAPIServer(t)
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", "")
	if _, err := Open(Config{}); err != ErrNotConfigured {
		t.Fatalf("no configuration: %v", err)
	}
	write(t, filepath.Join(dir, "a", "ca.crt"), s.ca)
	first := write(t, filepath.Join(dir, "a", "first"), `current-context: two
users:
- name: u
  user: {token: from-first}
`)
	second := write(t, filepath.Join(dir, "b", "second"), `current-context: one
contexts:
- name: two
  context: {cluster: c, user: u}
clusters:
- name: c
  cluster: {server: `+s.URL+`, certificate-authority-data: `+b64(s.ca)+`}
users:
- name: u
  user: {token: from-second}
`)
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing")+string(filepath.ListSeparator)+first+string(filepath.ListSeparator)+second)
	c, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()); err != nil || s.lastAuth() != "Bearer from-first" || c.Namespace() != "default" {
		t.Fatalf("merged: err %v, auth %q, namespace %q", err, s.lastAuth(), c.Namespace())
	}
	if !strings.HasPrefix(c.Source(), "$KUBECONFIG (") || KubeconfigPath() != first {
		t.Fatalf("source %q, path %q", c.Source(), KubeconfigPath())
	}

	// In a Pod: the service account's token, read again when rotated.
	sa := filepath.Join(dir, "sa")
	write(t, filepath.Join(sa, "token"), "sa-1")
	write(t, filepath.Join(sa, "ca.crt"), s.ca)
	write(t, filepath.Join(sa, "namespace"), "pods\n")
	old := serviceAccountDir
	serviceAccountDir = sa
	t.Cleanup(func() { serviceAccountDir = old })
	host, port, _ := strings.Cut(strings.TrimPrefix(s.URL, "https://"), ":")
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	c, err = Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()); err != nil || s.lastAuth() != "Bearer sa-1" || c.Namespace() != "pods" || c.Source() != "the in-cluster service account" {
		t.Fatalf("in cluster: err %v, auth %q, namespace %q", err, s.lastAuth(), c.Namespace())
	}
	write(t, filepath.Join(sa, "token"), "sa-2")
	c.api.auth.readAt = time.Now().Add(-2 * time.Minute) // as a minute later
	if err := c.Ping(context.Background()); err != nil || s.lastAuth() != "Bearer sa-2" {
		t.Fatalf("rotated: err %v, auth %q", err, s.lastAuth())
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestKubeconfigClientCertificate: a user's client certificate and key,
// as files relative to the kubeconfig's folder or as data, reach the API
// server's TLS handshake.
func TestKubeconfigClientCertificate(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice-worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	var mu sync.Mutex
	seen := ""
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if len(r.TLS.PeerCertificates) > 0 {
			seen = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cfg", "ca.crt"), ca)
	write(t, filepath.Join(dir, "cfg", "certs", "me.crt"), certPEM)
	write(t, filepath.Join(dir, "cfg", "certs", "me.key"), keyPEM)
	for _, user := range []string{
		"    client-certificate: certs/me.crt\n    client-key: certs/me.key\n",
		"    client-certificate-data: " + b64(certPEM) + "\n    client-key-data: " + b64(keyPEM) + "\n",
	} {
		mu.Lock()
		seen = ""
		mu.Unlock()
		c, err := Open(Config{Kubeconfig: write(t, filepath.Join(dir, "cfg", "config"), kubeconfigText(srv.URL, user))})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Ping(context.Background())
		c.Close()
		mu.Lock()
		got := seen
		mu.Unlock()
		if err != nil || got != "sluice-worker" {
			t.Fatalf("%s: err %v, client certificate %q", user, err, got)
		}
	}
}
