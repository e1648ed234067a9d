package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

type testBundle struct {
	t   *testing.T
	st  store.Store
	a   *auth.Auth
	srv *httptest.Server
	log *syncBuffer
}

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setup serves a handler behind the middleware that echoes the principal.
func setup(t *testing.T, mode auth.Mode) *testBundle {
	return setupWith(t, auth.Config{Mode: mode})
}

// setupWith is setup with more of the config.
func setupWith(t *testing.T, cfg auth.Config) *testBundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := &syncBuffer{}
	cfg.Store, cfg.Logger = st, slog.New(slog.NewTextHandler(log, nil))
	a := auth.New(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Login(w, r, r.FormValue("user"), r.FormValue("password"))
		if err != nil {
			http.Error(w, sluice.ErrorCode(err)+": "+err.Error(), 401)
			return
		}
		io.WriteString(w, p.CSRFToken)
	})
	mux.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			io.WriteString(w, "anonymous")
			return
		}
		io.WriteString(w, p.Via+":"+p.Name+":"+string(p.Role))
	})
	onError := func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, sluice.ErrorCode(err)+": "+err.Error(), 403)
	}
	login := mux.ServeHTTP
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			login(w, r)
			return
		}
		a.Middleware(onError)(mux).ServeHTTP(w, r)
	})
	srv := httptest.NewServer(http.MaxBytesHandler(h, 1<<20))
	t.Cleanup(srv.Close)
	return &testBundle{t: t, st: st, a: a, srv: srv, log: log}
}

func (b *testBundle) user(name, password string, role store.Role) {
	b.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.st.UserCreate(context.Background(), &store.UserCreateParams{Name: name, PasswordHash: hash, Role: role}); err != nil {
		b.t.Fatal(err)
	}
}

func (b *testBundle) do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// login returns the session cookie and CSRF token.
func (b *testBundle) login(name, password string) (*http.Cookie, string) {
	b.t.Helper()
	resp, err := http.PostForm(b.srv.URL+"/login", url.Values{"user": {name}, "password": {password}})
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				b.t.Fatalf("session cookie not HttpOnly/SameSite=Lax: %+v", c)
			}
			return c, string(body)
		}
	}
	b.t.Fatal("no session cookie")
	return nil, ""
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPassword("correct horse")
	if err != nil || !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash = %q, %v", h, err)
	}
	if !auth.CheckPassword(h, "correct horse") || auth.CheckPassword(h, "correct horsE") || auth.CheckPassword("garbage", "x") {
		t.Fatal("CheckPassword is wrong")
	}
	if h2, _ := auth.HashPassword("correct horse"); h2 == h {
		t.Fatal("no salt")
	}
	if _, err := auth.HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
	// A hash carries its parameters: one made with other ones, as earlier
	// versions did (64 MiB, 3 passes, 2 lanes), still checks.
	salt := []byte("0123456789abcdef")
	old := fmt.Sprintf("$argon2id$v=%d$m=65536,t=3,p=2$%s$%s", argon2.Version, base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("correct horse"), salt, 3, 64*1024, 2, 32)))
	if !auth.CheckPassword(old, "correct horse") || auth.CheckPassword(old, "correct horsE") {
		t.Fatal("a hash with earlier parameters does not check")
	}
	secret, hash := auth.NewToken()
	if !strings.HasPrefix(secret, auth.TokenPrefix) || auth.HashSecret(secret) != hash || strings.Contains(hash, secret) {
		t.Fatalf("token %q hash %q", secret, hash)
	}
}

func TestSessionsAndCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	b.user("ann", "ann-password", store.RoleOperator)
	if _, body := b.do(mustReq(t, "GET", b.srv.URL+"/who", nil)); body != "anonymous" {
		t.Fatalf("no credentials: %s", body)
	}
	cookie, csrf := b.login("ann", "ann-password")

	get := mustReq(t, "GET", b.srv.URL+"/who", nil)
	get.AddCookie(cookie)
	if code, body := b.do(get); code != 200 || body != "session:ann:operator" {
		t.Fatalf("session GET: %d %s", code, body)
	}
	// A state-changing request needs the token: in a header…
	post := mustReq(t, "POST", b.srv.URL+"/who", nil)
	post.AddCookie(cookie)
	if code, body := b.do(post); code != 403 || !strings.Contains(body, "CSRF token") {
		t.Fatalf("POST without a token: %d %s", code, body)
	}
	post = mustReq(t, "POST", b.srv.URL+"/who", nil)
	post.AddCookie(cookie)
	post.Header.Set(auth.CSRFHeader, "wrong")
	if code, _ := b.do(post); code != 403 {
		t.Fatalf("POST with a wrong token: %d", code)
	}
	post = mustReq(t, "POST", b.srv.URL+"/who", nil)
	post.AddCookie(cookie)
	post.Header.Set(auth.CSRFHeader, csrf)
	if code, body := b.do(post); code != 200 || body != "session:ann:operator" {
		t.Fatalf("POST with the token: %d %s", code, body)
	}
	// …in a plain form…
	form := mustReq(t, "POST", b.srv.URL+"/who", strings.NewReader(url.Values{auth.CSRFField: {csrf}}.Encode()))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form.AddCookie(cookie)
	if code, _ := b.do(form); code != 200 {
		t.Fatalf("form POST with the token: %d", code)
	}
	// …or in a multipart upload, the first request after login.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField(auth.CSRFField, csrf)
	fw, _ := mw.CreateFormFile("file", "p.yaml")
	fw.Write([]byte("id: p\n"))
	mw.Close()
	up := mustReq(t, "POST", b.srv.URL+"/who", &buf)
	up.Header.Set("Content-Type", mw.FormDataContentType())
	up.AddCookie(cookie)
	if code, body := b.do(up); code != 200 {
		t.Fatalf("multipart POST with the token: %d %s", code, body)
	}
	// A cross-origin request is refused even with the token.
	cross := mustReq(t, "POST", b.srv.URL+"/who", nil)
	cross.AddCookie(cookie)
	cross.Header.Set(auth.CSRFHeader, csrf)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	if code, body := b.do(cross); code != 403 || !strings.Contains(body, "cross-origin") {
		t.Fatalf("cross-origin POST: %d %s", code, body)
	}
	cross = mustReq(t, "POST", b.srv.URL+"/who", nil)
	cross.Header.Set("Origin", "https://evil.example")
	if code, _ := b.do(cross); code != 403 {
		t.Fatalf("cross-origin POST by Origin: %d", code)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	secret, hash := auth.NewToken()
	if _, err := b.st.TokenCreate(context.Background(), &store.Token{Name: "ci", Hash: hash, Role: store.RoleViewer, System: true}); err != nil {
		t.Fatal(err)
	}
	req := mustReq(t, "POST", b.srv.URL+"/who", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	if code, body := b.do(req); code != 200 || body != "token:ci:viewer" {
		t.Fatalf("bearer POST needs no CSRF token: %d %s", code, body)
	}
	req = mustReq(t, "GET", b.srv.URL+"/who", nil)
	req.Header.Set("Authorization", "Bearer slc_nope")
	if code, body := b.do(req); code != 403 || !strings.Contains(body, "unauthorized") {
		t.Fatalf("bad token: %d %s", code, body)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	b.user("ann", "ann-password", store.RoleViewer)
	for i := 0; i < auth.MaxFailuresPerUserAddr; i++ {
		resp, _ := http.PostForm(b.srv.URL+"/login", url.Values{"user": {"ann"}, "password": {"guess"}})
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "wrong user name or password") {
			t.Fatalf("failure %d: %s", i, body)
		}
	}
	resp, _ := http.PostForm(b.srv.URL+"/login", url.Values{"user": {"ann"}, "password": {"ann-password"}})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "too_many_requests") {
		t.Fatalf("after %d failures the right password still logs in: %s", auth.MaxFailuresPerUserAddr, body)
	}
}

func TestModeNoneAndListen(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModeNone)
	if _, body := b.do(mustReq(t, "GET", b.srv.URL+"/who", nil)); body != "none:anonymous:admin" {
		t.Fatalf("mode none: %s", body)
	}
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "[::1]:0": true, "localhost:80": true, ":8080": false, "0.0.0.0:8080": false, "10.0.0.1:80": false} {
		if err := auth.CheckListen(auth.ModeNone, addr); (err == nil) != ok {
			t.Errorf("CheckListen(none, %q) = %v", addr, err)
		}
	}
	if err := auth.CheckListen(auth.ModePassword, ":8080"); err != nil {
		t.Errorf("password mode on any address: %v", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	created, pw, err := b.a.EnsureAdmin(context.Background(), "")
	if err != nil || !created || len(pw) < 16 {
		t.Fatalf("first: %v %q %v", created, pw, err)
	}
	if created, _, err := b.a.EnsureAdmin(context.Background(), ""); err != nil || created {
		t.Fatalf("second: %v %v", created, err)
	}
	b.login("admin", pw)
}

func mustReq(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
