package auth_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// tryLogin posts a login with extra headers and returns its status and
// body.
func (b *testBundle) tryLogin(name, password string, headers ...string) (int, string) {
	b.t.Helper()
	req := mustReq(b.t, "POST", b.srv.URL+"/login", strings.NewReader(url.Values{"user": {name}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

func loggedIn(body string) bool {
	return !strings.Contains(body, "unauthorized") && !strings.Contains(body, "too_many_requests")
}

// TestLoginLockoutSparesOthers: failures from one address, with made-up
// names or with a real one, do not lock the real user out from elsewhere,
// nor, for made-up names, from the same address (behind a proxy every
// client shares one).
func TestLoginLockoutSparesOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	b.user("admin", "admin-password", store.RoleAdmin)
	for i := range 40 {
		if _, body := b.tryLogin(fmt.Sprintf("made-up-%d", i), "guess"); !strings.Contains(body, "wrong user name or password") {
			t.Fatalf("failure %d: %s", i, body)
		}
	}
	if _, body := b.tryLogin("admin", "admin-password"); !loggedIn(body) {
		t.Fatalf("40 failures of other names from this address locked the admin out: %s", body)
	}
	log := b.log.String()
	if !strings.Contains(log, "login failed") || !strings.Contains(log, "no such user") || !strings.Contains(log, "addr=127.0.0.1") {
		t.Errorf("failed logins are not logged with the name and address:\n%s", log)
	}
	if strings.Contains(log, "guess") || strings.Contains(log, "admin-password") {
		t.Errorf("a password reached the log:\n%s", log)
	}
}

// TestLoginLockoutPerUserAndAddress: behind a trusted proxy, the client's
// address comes from X-Forwarded-For; a user guessed at from one address
// is locked there and not elsewhere; guessed at from many, everywhere.
func TestLoginLockoutPerUserAndAddress(t *testing.T) {
	t.Parallel()
	b := setupWith(t, auth.Config{Mode: auth.ModePassword, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	b.user("ann", "ann-password", store.RoleViewer)
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	for range auth.MaxFailuresPerUserAddr {
		b.tryLogin("ann", "guess", from("203.0.113.9")...)
	}
	if _, body := b.tryLogin("ann", "ann-password", from("203.0.113.9")...); !strings.Contains(body, "too_many_requests") {
		t.Fatalf("the guesser's address is not locked: %s", body)
	}
	if _, body := b.tryLogin("ann", "ann-password", from("198.51.100.4")...); !loggedIn(body) {
		t.Fatalf("ann is locked out from her own address by another's guesses: %s", body)
	}
	if log := b.log.String(); !strings.Contains(log, "login refused: too many failures") || !strings.Contains(log, "user=ann addr=203.0.113.9") {
		t.Errorf("the lockout is not logged with user and address:\n%s", log)
	}
	// Spread over many addresses, the guesses lock the user everywhere.
	for i := range auth.MaxFailuresPerUser {
		b.tryLogin("ann", "guess", from(fmt.Sprintf("192.0.2.%d", i%250))...)
	}
	if _, body := b.tryLogin("ann", "ann-password", from("198.51.100.4")...); !strings.Contains(body, "too_many_requests") {
		t.Fatalf("%d guesses from many addresses did not lock the user: %s", auth.MaxFailuresPerUser, body)
	}
}

// TestForwardedFromUntrustedPeer: a client that is not a trusted proxy
// cannot pick its address with the headers.
func TestForwardedFromUntrustedPeer(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	b.user("ann", "ann-password", store.RoleViewer)
	for i := range auth.MaxFailuresPerUserAddr {
		b.tryLogin("ann", "guess", "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i), "Forwarded", fmt.Sprintf("for=192.0.2.%d", i))
	}
	if _, body := b.tryLogin("ann", "ann-password", "X-Forwarded-For", "198.51.100.77"); !strings.Contains(body, "too_many_requests") {
		t.Fatalf("a client dodged the limit by sending X-Forwarded-For: %s", body)
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies, err := auth.ParseProxies([]string{"10.0.0.0/8", " 192.0.2.1 ", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(auth.Config{TrustedProxies: proxies})
	for _, c := range []struct {
		name, remote string
		headers      []string
		want         string
	}{
		{"no proxy", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's header ignored", "203.0.113.5:4000", []string{"X-Forwarded-For", "1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy", "10.1.2.3:80", []string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"spoofed first hop", "10.1.2.3:80", []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:80", []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.9.9.9, 192.0.2.1"}, "198.51.100.7"},
		{"all trusted", "10.1.2.3:80", []string{"X-Forwarded-For", "10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"with ports and brackets", "[::1]:80", []string{"X-Forwarded-For", "[2001:db8::5]:443"}, "2001:db8::5"},
		{"garbage hop", "10.1.2.3:80", []string{"X-Forwarded-For", "198.51.100.7, not-an-ip"}, "10.1.2.3"},
		{"Forwarded is not read", "10.1.2.3:80", []string{"Forwarded", `for=198.51.100.8`}, "10.1.2.3"},
		{"X-Forwarded-For is", "10.1.2.3:80", []string{"Forwarded", "for=198.51.100.8", "X-Forwarded-For", "6.6.6.6"}, "6.6.6.6"},
		{"mapped IPv4 peer", "[::ffff:10.1.2.3]:80", []string{"X-Forwarded-For", "198.51.100.9"}, "198.51.100.9"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for i := 0; i+1 < len(c.headers); i += 2 {
			r.Header.Set(c.headers[i], c.headers[i+1])
		}
		if got := a.ClientAddr(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// With proxies that write Forwarded, only Forwarded counts: a client's
	// own X-Forwarded-For passes through such a proxy untouched.
	fwd := auth.New(auth.Config{TrustedProxies: proxies, ForwardedHeader: auth.HeaderForwarded})
	for _, c := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"Forwarded", []string{"Forwarded", `for=6.6.6.6, for="[2001:db8::9]:1234";proto=https`}, "2001:db8::9"},
		{"client's X-Forwarded-For ignored", []string{"Forwarded", "for=198.51.100.1", "X-Forwarded-For", "10.9.9.1"}, "198.51.100.1"},
		{"obfuscated hop", []string{"Forwarded", "for=_hidden, for=198.51.100.2"}, "198.51.100.2"},
		{"unknown", []string{"Forwarded", "for=unknown"}, "10.1.2.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.2.3:80"
		for i := 0; i+1 < len(c.headers); i += 2 {
			r.Header.Set(c.headers[i], c.headers[i+1])
		}
		if got := fwd.ClientAddr(r); got != c.want {
			t.Errorf("Forwarded: %s: %q, want %q", c.name, got, c.want)
		}
	}
	for _, ok := range []string{"", "x-forwarded-for", "Forwarded"} {
		if _, err := auth.ParseForwardedHeader(ok); err != nil {
			t.Errorf("ParseForwardedHeader(%q): %v", ok, err)
		}
	}
	if _, err := auth.ParseForwardedHeader("X-Real-IP"); err == nil {
		t.Error("ParseForwardedHeader took X-Real-IP")
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1:80"} {
		if _, err := auth.ParseProxies([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseProxies(%q) = %v", bad, err)
		}
	}
}

// TestHostCheck is the defence against DNS rebinding: with --auth none a
// request is served only when addressed to a loopback name, whatever its
// Origin and Sec-Fetch-Site say; --allowed-hosts narrows any mode.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	allowed, err := auth.ParseHosts([]string{"sluice.example.com", ".corp.example", "10.0.0.0/8", "192.0.2.7", "[2001:db8::1]"})
	if err != nil {
		t.Fatal(err)
	}
	none := setup(t, auth.ModeNone)
	noneListed := setupWith(t, auth.Config{Mode: auth.ModeNone, AllowedHosts: allowed})
	password := setup(t, auth.ModePassword)
	passwordListed := setupWith(t, auth.Config{Mode: auth.ModePassword, AllowedHosts: allowed})
	loopback := []string{"127.0.0.1", "127.0.0.1:8080", "127.1.2.3:9", "localhost", "LOCALHOST:8080", "localhost.:8080", "app.localhost:8080", "[::1]:8080", "[::ffff:127.0.0.1]:80"}
	listed := []string{"sluice.example.com", "Sluice.Example.Com:443", "corp.example", "a.b.corp.example:8080", "10.2.3.4:8080", "192.0.2.7", "[2001:db8::1]:80"}
	other := []string{"evil.example:8080", "evil.example", "127.0.0.1.evil.example:8080", "localhost.evil.example", "sluice.example.com.evil.example", "xcorp.example", "192.0.2.8", "0.0.0.0:8080", "[::]:8080", "2130706433:8080", "127.1:8080"}
	for _, c := range []struct {
		name string
		b    *testBundle
		ok   [][]string
		bad  [][]string
	}{
		{"none", none, [][]string{loopback}, [][]string{listed, other}},
		{"none with --allowed-hosts", noneListed, [][]string{loopback, listed}, [][]string{other}},
		{"password", password, [][]string{loopback, listed, other}, nil},
		{"password with --allowed-hosts", passwordListed, [][]string{loopback, listed}, [][]string{other}},
	} {
		for _, hosts := range c.ok {
			for _, h := range hosts {
				if code, body := hostRequest(t, c.b, h); code != 200 {
					t.Errorf("%s: Host %q refused: %d %s", c.name, h, code, body)
				}
			}
		}
		for _, hosts := range c.bad {
			for _, h := range hosts {
				code, body := hostRequest(t, c.b, h)
				if code != 403 || !strings.Contains(body, "forbidden") || !strings.Contains(body, "refused") {
					t.Errorf("%s: Host %q served: %d %s", c.name, h, code, body)
				}
			}
		}
	}
	for _, bad := range []string{"http://sluice.example.com", "sluice.example.com:8080", "a/b", "exa mple", ".", "*.example.com"} {
		if _, err := auth.ParseHosts([]string{bad}); err == nil {
			t.Errorf("ParseHosts(%q) took it", bad)
		}
	}
	// With --auth none, a list that takes every name undoes the check.
	for _, all := range [][]string{{"*"}, {"sluice.example.com", "*"}, {"0.0.0.0/0"}, {"::/0"}} {
		hosts, err := auth.ParseHosts(all)
		if err != nil {
			t.Fatal(err)
		}
		if err := auth.CheckHosts(auth.ModeNone, hosts); err == nil || !strings.Contains(err.Error(), "--auth none") {
			t.Errorf("CheckHosts(none, %v) = %v", all, err)
		}
		if err := auth.CheckHosts(auth.ModePassword, hosts); err != nil {
			t.Errorf("CheckHosts(password, %v) = %v", all, err)
		}
	}
}

// hostRequest posts to /who as a page of the Host would, rebinding's
// way: Origin and Sec-Fetch-Site agree with the Host.
func hostRequest(t *testing.T, b *testBundle, host string) (int, string) {
	t.Helper()
	req := mustReq(t, "POST", b.srv.URL+"/who", nil)
	req.Host = host
	req.Header.Set("Origin", "http://"+host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestSecureCookieBehindProxy: behind a trusted TLS proxy the session
// cookie is Secure; a client cannot make it so, or not, by the header.
func TestSecureCookieBehindProxy(t *testing.T) {
	t.Parallel()
	behind := setupWith(t, auth.Config{Mode: auth.ModePassword, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	direct := setup(t, auth.ModePassword)
	behindFwd := setupWith(t, auth.Config{Mode: auth.ModePassword, ForwardedHeader: auth.HeaderForwarded,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	for _, c := range []struct {
		name    string
		b       *testBundle
		headers []string
		secure  bool
	}{
		{"trusted proxy over TLS", behind, []string{"X-Forwarded-Proto", "https"}, true},
		{"trusted proxy, Forwarded", behindFwd, []string{"Forwarded", "for=198.51.100.1;proto=https"}, true},
		{"trusted proxy, Forwarded, client's X-Forwarded-Proto", behindFwd, []string{"Forwarded", "for=198.51.100.1;proto=http", "X-Forwarded-Proto", "https"}, false},
		{"trusted proxy over plain HTTP", behind, []string{"X-Forwarded-Proto", "http"}, false},
		{"untrusted peer says https", direct, []string{"X-Forwarded-Proto", "https"}, false},
	} {
		c.b.user("ann", "ann-password", store.RoleViewer)
		req := mustReq(t, "POST", c.b.srv.URL+"/login", strings.NewReader(url.Values{"user": {"ann"}, "password": {"ann-password"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(c.headers); i += 2 {
			req.Header.Set(c.headers[i], c.headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) != 1 || cookies[0].Secure != c.secure {
			t.Errorf("%s: cookies %+v, want Secure=%v", c.name, cookies, c.secure)
		}
		if _, err := c.b.st.UserGet(t.Context(), "ann"); err == nil {
			_ = c.b.st.UserDelete(t.Context(), "ann")
		}
	}
}

// TestLoginBurst: logins sent all at once are limited like logins sent one
// by one: at most MaxFailuresPerUserAddr passwords are checked for a user
// from one address, and that address's burst does not lock the user out
// from another.
func TestLoginBurst(t *testing.T) {
	t.Parallel()
	b := setupWith(t, auth.Config{Mode: auth.ModePassword, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	b.user("bob", "bob-password", store.RoleViewer)
	const burst = 3 * auth.MaxFailuresPerUser / 2
	codes := make(chan string, burst)
	start := make(chan struct{})
	for range burst {
		go func() {
			<-start
			_, body := b.tryLogin("bob", "guess", "X-Forwarded-For", "203.0.113.66")
			codes <- body
		}()
	}
	close(start)
	checked := 0
	for range burst {
		if body := <-codes; strings.Contains(body, "wrong user name or password") {
			checked++
		} else if !strings.Contains(body, "too_many_requests") {
			t.Errorf("unexpected answer: %s", body)
		}
	}
	if checked > auth.MaxFailuresPerUserAddr {
		t.Errorf("%d passwords checked in a burst from one address, limit %d", checked, auth.MaxFailuresPerUserAddr)
	}
	// The burst, and more refused tries after it, leave bob able to log
	// in from his own address.
	for range auth.MaxFailuresPerUser {
		b.tryLogin("bob", "guess", "X-Forwarded-For", "203.0.113.66")
	}
	if _, body := b.tryLogin("bob", "bob-password", "X-Forwarded-For", "198.51.100.3"); !loggedIn(body) {
		t.Fatalf("one address's refused tries locked bob out everywhere: %s", body)
	}
	// Successful logins are not failures: logging in often is fine.
	for i := range 2 * auth.MaxFailuresPerUserAddr {
		if _, body := b.tryLogin("bob", "bob-password", "X-Forwarded-For", "198.51.100.3"); !loggedIn(body) {
			t.Fatalf("login %d of a user who logs in often: %s", i, body)
		}
	}
}

// TestLoginLogsNoPasswordTypedAsName: a name that is no user may be a
// password typed into the wrong field; the log keeps only its start.
func TestLoginLogsNoPasswordTypedAsName(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.ModePassword)
	b.user("ann", "ann-password", store.RoleViewer)
	b.tryLogin("MyS3cretPassw0rd!", "whatever")
	b.tryLogin("ann", "wrong")
	log := b.log.String()
	if strings.Contains(log, "MyS3cretPassw0rd") || !strings.Contains(log, `My\"…`) || !strings.Contains(log, "17 characters") {
		t.Errorf("the name that is no user is not shortened:\n%s", log)
	}
	if !strings.Contains(log, "user=ann") {
		t.Errorf("a known user's failure does not name them:\n%s", log)
	}
}
