// Package auth decides who makes a request and what they may do: users
// with passwords and browser sessions, API tokens for scripts, roles, and
// protection of every state-changing browser request against cross-site
// request forgery.
//
// Everything lives in the store, so any web process can serve any request.
//
// CSRF: a state-changing request that carries a session cookie must (1)
// come from the same origin, checked by Go's http.CrossOriginProtection
// (Sec-Fetch-Site, else Origin), and (2) carry the session's CSRF token in
// the X-CSRF-Token header or a csrf_token form field (including multipart
// uploads). The token is made with the session at login, returned by the
// login response and written into every page, so the very first request
// after login already has it. Requests with a bearer token carry no
// cookie and need no CSRF token.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Mode says how requests are authenticated.
type Mode string

// The modes.
const (
	// ModePassword (the default) requires a session or an API token.
	ModePassword Mode = "password"
	// ModeNone treats every request as an admin's. Only for a server that
	// listens on loopback.
	ModeNone Mode = "none"
)

// CookieName is the session cookie.
const CookieName = "sluice_session"

// CSRFHeader and CSRFField carry the CSRF token of a session.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// Login rate limits: failed logins allowed within LoginWindow. A user name
// from one client address gets MaxFailuresPerUserAddr tries, so one
// address cannot lock a user out for the others; a user name from all
// addresses together gets MaxFailuresPerUser, which slows a guesser
// spread over many addresses. Nothing counts per address alone: behind a
// proxy every client may share one (see Config.TrustedProxies).
const (
	LoginWindow            = 5 * time.Minute
	MaxFailuresPerUserAddr = 5
	MaxFailuresPerUser     = 50
	DefaultSessionTTL      = 12 * time.Hour
	DefaultAdminName       = "admin"
	AdminPasswordEnvVar    = "SLUICE_ADMIN_PASSWORD"
)

// Config configures Auth. Zero values take the documented defaults.
type Config struct {
	Store store.Store
	// Mode defaults to ModePassword.
	Mode  Mode
	Clock sluice.Clock
	// SessionTTL is how long a login lasts; default 12h.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure; set it when serving over TLS.
	SecureCookies bool
	// AllowedHosts, when set, are the only Host names served (see
	// ParseHosts); loopback names are always served. With ModeNone and no
	// list, only loopback names are served.
	AllowedHosts []string
	// TrustedProxies are the proxies whose X-Forwarded-For and Forwarded
	// headers tell the client's address (see ClientAddr); none by default,
	// so the peer's address is the client's.
	TrustedProxies []netip.Prefix
	// ForwardedHeader is the header the trusted proxies write the
	// client's address in: HeaderXForwardedFor (the default) or
	// HeaderForwarded. The other is not read.
	ForwardedHeader string
	// RecheckEvery is how often a long request (an event stream, a
	// followed log) checks that its principal may still do what it does:
	// a stream of a user disabled or deleted, a token revoked, or a role
	// lowered meanwhile ends. Default 5s.
	RecheckEvery time.Duration
	Logger       *slog.Logger
}

// Auth authenticates requests. Create it with New.
type Auth struct {
	cfg   Config
	st    store.Store
	cross *http.CrossOriginProtection
}

// New returns an Auth for cfg.
func New(cfg Config) *Auth {
	if cfg.Mode == "" {
		cfg.Mode = ModePassword
	}
	if cfg.Clock == nil {
		cfg.Clock = sluice.SystemClock
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.RecheckEvery <= 0 {
		cfg.RecheckEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Auth{cfg: cfg, st: cfg.Store, cross: http.NewCrossOriginProtection()}
}

// Mode returns the authentication mode.
func (a *Auth) Mode() Mode { return a.cfg.Mode }

// Principal is who makes a request.
type Principal struct {
	// Name is the user's name; for a system token, the token's name.
	Name string
	// Role is what the request may do: the user's role, or a token's role
	// capped by its user's.
	Role store.Role
	// Via is "session", "token" or "none".
	Via string
	// UserID is the user the request acts for; 0 for a system token and
	// with --auth none.
	UserID int64
	// System marks a request made with a system token.
	System bool
	// Token is the name of the API token, when Via is "token".
	Token string
	// ZonePref is the zone the session's user chose for times in the web
	// UI (store.ZonePrefs), or "" when none or not a session.
	ZonePref string
	// CSRFToken is the session's token, for pages to embed.
	CSRFToken string
	// SessionHash identifies the session, for logout.
	SessionHash string
}

// NewToken returns a token, not yet stored, that the principal makes:
// it belongs to the principal's user, and a token made with a system
// token is a system token too. With --auth none there is no user to own
// it, so it is refused. NewTokenFor makes one for another user.
func (p *Principal) NewToken(name, hash string, role store.Role, expires *time.Time) (*store.Token, error) {
	if p == nil || (p.UserID == 0 && !p.System) {
		return nil, sluice.Errorf(sluice.EINVALID, "an API token acts for the user who makes it, and with --auth none there is no user: "+
			"start the server with --auth password and make the token as a user")
	}
	return &store.Token{Name: name, Hash: hash, Role: role, UserID: p.UserID, System: p.System, CreatedBy: p.Name, ExpiresAt: expires}, nil
}

// NewTokenFor returns a token, not yet stored, that the principal makes
// for user u (a service account, say): it acts for u, whose role its own
// may not exceed.
func (p *Principal) NewTokenFor(u *store.User, name, hash string, role store.Role, expires *time.Time) (*store.Token, error) {
	if u.Disabled {
		return nil, sluice.Errorf(sluice.EINVALID, "user %q is disabled: a token of theirs would be refused", u.Name)
	}
	if !u.Role.Allows(role) {
		return nil, sluice.Errorf(sluice.EINVALID, "a token for %q may not be %s: the user is %s, and a token does no more than its user", u.Name, role, u.Role)
	}
	return &store.Token{Name: name, Hash: hash, Role: role, UserID: u.ID, CreatedBy: p.Name, ExpiresAt: expires}, nil
}

// tokenPrincipal is the principal of a request with tk: a token acts for
// its user, so a disabled or deleted user's tokens are refused and a
// demoted user's tokens do no more than the user's new role.
func tokenPrincipal(tk *store.Token) (*Principal, error) {
	p := &Principal{Name: tk.Name, Role: tk.Role, Via: "token", System: tk.System, Token: tk.Name}
	if tk.System {
		return p, nil
	}
	switch u := tk.User; {
	case u == nil:
		return nil, sluice.Errorf(sluice.EUNAUTH, "the API token %q belongs to no user (its user was deleted): make a new one", tk.Name)
	case u.Disabled:
		return nil, sluice.Errorf(sluice.EUNAUTH, "the API token %q belongs to user %q, who is disabled", tk.Name, u.Name)
	default:
		p.Name, p.UserID = u.Name, u.ID
		if !u.Role.Allows(p.Role) {
			p.Role = u.Role
		}
	}
	return p, nil
}

type ctxKey struct{}

// FromContext returns the request's principal, or nil when anonymous.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Authenticate finds the principal of a request: a bearer token, a session
// cookie, or anyone in ModeNone. It returns nil, nil for an anonymous
// request, and an EUNAUTH error for a token that is not valid.
func (a *Auth) Authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || secret == "" {
			return nil, sluice.Errorf(sluice.EUNAUTH, "the Authorization header must be 'Bearer <token>'")
		}
		tk, err := a.st.TokenGet(r.Context(), HashSecret(strings.TrimSpace(secret)))
		if sluice.ErrorCode(err) == sluice.ENOTFOUND {
			return nil, sluice.Errorf(sluice.EUNAUTH, "the API token is not valid: it may have been revoked or have expired")
		}
		if err != nil {
			return nil, err
		}
		return tokenPrincipal(tk)
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		hash := HashSecret(c.Value)
		s, u, err := a.st.SessionGet(r.Context(), hash)
		if err == nil {
			return &Principal{Name: u.Name, Role: u.Role, Via: "session", UserID: u.ID, ZonePref: u.ZonePref, CSRFToken: s.CSRFToken, SessionHash: hash}, nil
		}
		if sluice.ErrorCode(err) != sluice.ENOTFOUND {
			return nil, err
		}
	}
	if a.cfg.Mode == ModeNone {
		return &Principal{Name: "anonymous", Role: store.RoleAdmin, Via: "none"}, nil
	}
	return nil, nil
}

// Middleware authenticates every request and puts its principal in the
// request's context; a state-changing request that carries a session
// cookie must pass the CSRF checks. onError writes an error response.
func (a *Auth) Middleware(onError func(w http.ResponseWriter, r *http.Request, err error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := a.CheckHost(r); err != nil {
				onError(w, r, err)
				return
			}
			if err := a.cross.Check(r); err != nil {
				onError(w, r, sluice.Errorf(sluice.EFORBIDDEN, "cross-origin request refused: sluice only accepts changes from its own pages"))
				return
			}
			p, err := a.Authenticate(r)
			if err != nil {
				onError(w, r, err)
				return
			}
			if p != nil && p.Via == "session" && !safeMethod(r.Method) {
				if err := checkCSRF(r, p.CSRFToken); err != nil {
					onError(w, r, err)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// Watch returns a context that ends with ctx, or as soon as the request's
// principal may no longer do act: the session ended, the user was disabled
// or deleted or lost the role, the token was revoked. It is for requests
// that last (event streams, followed logs), which were allowed once, when
// they began.
func (a *Auth) Watch(ctx context.Context, r *http.Request, act Action) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		defer cancel(nil)
		t := time.NewTicker(a.cfg.RecheckEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			p, err := a.Authenticate(r.WithContext(ctx))
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil && sluice.ErrorCode(err) != sluice.EUNAUTH:
				continue // the database is away: judge at the next tick
			case err != nil || !p.Can(act):
				cancel(sluice.Errorf(sluice.EFORBIDDEN, "the request may no longer %s", act))
				return
			}
		}
	}()
	return ctx
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF compares the request's CSRF token with the session's. Form
// bodies are parsed (within the size limit the caller set on r.Body) to
// find the field.
func checkCSRF(r *http.Request, want string) error {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/x-www-form-urlencoded":
			got = r.PostFormValue(CSRFField)
		case "multipart/form-data":
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return &sluice.Error{Code: sluice.ETOOLARGE, Message: fmt.Sprintf("request body over the limit of %d bytes", mbe.Limit)}
				}
				return sluice.Errorf(sluice.EINVALID, "cannot read the form: %v", err)
			}
			got = r.PostFormValue(CSRFField)
		}
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return sluice.Errorf(sluice.EFORBIDDEN, "missing or wrong CSRF token: reload the page and try again")
	}
	return nil
}

// Login checks a user's password and starts a session, setting its cookie
// on w. Failed attempts are limited per user name and client address, and
// per user name from every address (see MaxFailuresPerUserAddr); not per
// address alone, since behind a proxy every client may share one.
//
// A login is recorded as a failure before its password is checked and
// forgotten if it succeeds, so logins sent all at once cannot each pass
// the limit before any failure is stored; a login refused by the limit is
// forgotten too, so one address that keeps trying does not count against
// the user from everywhere. Failures and lockouts are logged with the
// client address and the user name (a name that is no user is shortened,
// as it may be a password typed in the wrong field), never the password.
func (a *Auth) Login(w http.ResponseWriter, r *http.Request, name, password string) (*Principal, error) {
	ctx := r.Context()
	now := a.cfg.Clock.Now()
	addr := a.ClientAddr(r)
	if len(name) > maxUserName {
		a.cfg.Logger.Warn("login failed", "user", redactName(name), "addr", addr, "reason", "user name too long")
		return nil, sluice.Errorf(sluice.EUNAUTH, "wrong user name or password")
	}
	lower := strings.ToLower(name)
	userKey, pairKey := "user:"+lower, "user+addr:"+lower+" "+addr
	attempt := randomString(16)
	if err := a.st.LoginAttemptAdd(ctx, attempt, []string{userKey, pairKey}, now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	forget := func() error { return a.st.LoginAttemptForget(context.WithoutCancel(ctx), attempt) }
	since := now.Add(-LoginWindow)
	nu, err := a.st.LoginFailureCount(ctx, userKey, since)
	if err != nil {
		return nil, errors.Join(err, forget())
	}
	np, err := a.st.LoginFailureCount(ctx, pairKey, since)
	if err != nil {
		return nil, errors.Join(err, forget())
	}
	// The counts include this login.
	if np > MaxFailuresPerUserAddr || nu > MaxFailuresPerUser {
		if err := forget(); err != nil {
			return nil, err
		}
		a.cfg.Logger.Warn("login refused: too many failures", "user", a.logName(ctx, name), "addr", addr,
			"failures_from_addr", np-1, "failures_of_user", nu-1, "window", LoginWindow.String())
		return nil, sluice.Errorf(sluice.ERATELIMIT, "too many failed logins: wait %s and try again", LoginWindow)
	}
	u, err := a.st.UserGet(ctx, name)
	if err != nil && sluice.ErrorCode(err) != sluice.ENOTFOUND {
		return nil, errors.Join(err, forget())
	}
	hash := ""
	if u == nil {
		hash = dummyHash()
	} else {
		hash = u.PasswordHash
	}
	// The hash is checked even for an unknown user, so the time a login
	// takes does not tell which user names exist.
	ok, err := checkPasswordLimited(ctx, hash, password)
	if err != nil {
		return nil, errors.Join(err, forget())
	}
	if !ok || u == nil || u.Disabled {
		reason, logged := "wrong password", name
		switch {
		case u == nil:
			reason, logged = "no such user", redactName(name)
		case u.Disabled:
			reason = "user disabled"
		}
		a.cfg.Logger.Warn("login failed", "user", logged, "addr", addr, "reason", reason)
		return nil, sluice.Errorf(sluice.EUNAUTH, "wrong user name or password")
	}
	if err := forget(); err != nil {
		return nil, err
	}
	id := randomString(32)
	s := &store.Session{IDHash: HashSecret(id), UserID: u.ID, CSRFToken: randomString(32), CreatedAt: now, ExpiresAt: now.Add(a.cfg.SessionTTL)}
	if err := a.st.SessionCreate(ctx, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: a.cfg.SecureCookies || a.overTLS(r), Expires: s.ExpiresAt,
	})
	a.cfg.Logger.Info("user logged in", "user", u.Name, "addr", addr)
	return &Principal{Name: u.Name, Role: u.Role, Via: "session", UserID: u.ID, CSRFToken: s.CSRFToken, SessionHash: s.IDHash}, nil
}

// logName is how a login's user name is logged: as it is when it names a
// user, else shortened (see redactName).
func (a *Auth) logName(ctx context.Context, name string) string {
	if _, err := a.st.UserGet(ctx, name); err == nil {
		return name
	}
	return redactName(name)
}

// redactName shortens a user name that is no user to its first two
// characters and its length: a failed login's "name" is now and then a
// password typed into the wrong field, and logs must not keep passwords.
func redactName(name string) string {
	r := []rune(name)
	if len(r) <= 2 {
		return fmt.Sprintf("%q (no such user)", name)
	}
	return fmt.Sprintf("%q… (%d characters, no such user)", string(r[:2]), len(r))
}

// maxUserName bounds the user name a login may give: longer ones cannot
// exist, and are not stored as failure keys.
const maxUserName = 200

// dummyHash is checked for logins of unknown users. It is made at the
// first such login, not when the program starts: hashing costs 64 MiB and
// a quarter of a second, which every CLI command would otherwise pay.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("sluice-dummy-password")
	return h
})

// Logout ends the request's session, if any, and clears its cookie.
func (a *Auth) Logout(w http.ResponseWriter, r *http.Request) error {
	if p := FromContext(r.Context()); p != nil && p.SessionHash != "" {
		if err := a.st.SessionDelete(r.Context(), p.SessionHash); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

// EnsureAdmin creates the first user, an admin, when there are no users.
// Its password is $SLUICE_ADMIN_PASSWORD, or a random one returned here so
// the caller can print it once. Processes racing to do this create one
// admin; the losers return created == false.
func (a *Auth) EnsureAdmin(ctx context.Context, envPassword string) (created bool, password string, err error) {
	n, err := a.st.UserCount(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	password = envPassword
	if password == "" {
		password = NewPassword()
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, "", fmt.Errorf("%s: %w", AdminPasswordEnvVar, err)
	}
	_, err = a.st.UserCreate(ctx, &store.UserCreateParams{Name: DefaultAdminName, PasswordHash: hash, Role: store.RoleAdmin})
	if sluice.ErrorCode(err) == sluice.ECONFLICT {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	return true, password, nil
}

// CheckListen refuses ModeNone unless addr is a loopback address: without
// authentication, anyone who can reach the server could run commands.
func CheckListen(mode Mode, addr string) error {
	if mode != ModeNone {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return sluice.Errorf(sluice.EINVALID, "--listen %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return sluice.Errorf(sluice.EINVALID, "--auth none is only allowed when listening on loopback (127.0.0.1, ::1 or localhost), not %q: "+
		"anyone who reaches the server could run commands on it", addr)
}
