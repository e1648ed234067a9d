package store

import (
	"context"
	"time"
)

// Role is what a user or token may do.
type Role string

// The roles, each allowed what the ones before it are; auth.Permissions
// says which role each action needs.
const (
	// RoleViewer reads pipelines, runs and logs.
	RoleViewer Role = "viewer"
	// RoleOperator also triggers, cancels, retries, clears and pauses, and
	// reads and sets variables.
	RoleOperator Role = "operator"
	// RoleAdmin also uploads and deletes pipelines and manages pools,
	// secrets, users and tokens.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from least to most allowed.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

func (r Role) rank() int {
	for i, k := range Roles {
		if r == k {
			return i + 1
		}
	}
	return 0
}

// Allows reports whether r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// Auth is the part of the store that holds users, sessions and tokens.
type Auth interface {
	// UserCreate adds a user; ECONFLICT if the name is taken.
	UserCreate(ctx context.Context, p *UserCreateParams) (*User, error)
	// UserGet returns a user by name, or ENOTFOUND.
	UserGet(ctx context.Context, name string) (*User, error)
	// UserList returns every user, by name.
	UserList(ctx context.Context) ([]*User, error)
	// UserUpdate changes a user's role, password or disabled flag (the
	// fields that are set). Disabling a user ends their sessions.
	UserUpdate(ctx context.Context, p *UserUpdateParams) error
	// UserDelete deletes a user with their sessions and API tokens.
	UserDelete(ctx context.Context, name string) error
	// UserCount counts users, to know whether to create the first admin.
	UserCount(ctx context.Context) (int, error)

	// SessionCreate stores a browser session.
	SessionCreate(ctx context.Context, s *Session) error
	// SessionGet returns a live session and its user by the hash of its
	// id, or ENOTFOUND when there is none, it expired, or its user is
	// disabled.
	SessionGet(ctx context.Context, idHash string) (*Session, *User, error)
	// SessionDelete ends a session.
	SessionDelete(ctx context.Context, idHash string) error

	// TokenCreate stores an API token by the hash of its secret.
	TokenCreate(ctx context.Context, t *Token) (*Token, error)
	// TokenGet returns a live token by the hash of its secret, with its
	// user, or ENOTFOUND, and records its use. It does not judge whether
	// the user may still use it.
	TokenGet(ctx context.Context, hash string) (*Token, error)
	// TokenList returns every token (without secrets), newest first.
	TokenList(ctx context.Context) ([]*Token, error)
	// TokenDelete revokes a token.
	TokenDelete(ctx context.Context, id int64) error

	// LoginAttemptAdd records a login, as a failure, under each of its
	// keys (a user name, a user name and address), and forgets failures
	// older than before. A login is recorded before its password is
	// checked: counted once its record is in, a burst of logins at once
	// cannot all pass a limit.
	LoginAttemptAdd(ctx context.Context, attempt string, keys []string, before time.Time) error
	// LoginAttemptForget removes the records of a login that succeeded,
	// or that was refused without checking a password.
	LoginAttemptForget(ctx context.Context, attempt string) error
	// LoginFailureCount counts the failures under key since a time.
	LoginFailureCount(ctx context.Context, key string, since time.Time) (int, error)
}

// User is a person who logs in to the web UI or the API.
type User struct {
	ID           int64
	Name         string
	PasswordHash string
	Role         Role
	Disabled     bool
	CreatedAt    time.Time
	// ZonePref is the zone the user chose for times in the web UI: one of
	// ZonePrefs, or "" when the user has not chosen.
	ZonePref string
}

// ZonePrefs are the choices of zone for times in the web UI: the
// browser's local zone, UTC, or each pipeline's own timezone.
var ZonePrefs = []string{"local", "utc", "pipeline"}

// UserCreateParams are the arguments of Auth.UserCreate.
type UserCreateParams struct {
	Name         string
	PasswordHash string
	Role         Role
}

// UserUpdateParams are the arguments of Auth.UserUpdate; nil fields stay.
type UserUpdateParams struct {
	Name         string
	PasswordHash *string
	Role         *Role
	Disabled     *bool
	// ZonePref, when not nil, sets the user's zone for times in the web
	// UI: one of ZonePrefs, or "" to forget it.
	ZonePref *string
}

// Session is a logged-in browser.
type Session struct {
	// IDHash is the SHA-256 of the cookie's value.
	IDHash string
	UserID int64
	// CSRFToken must accompany every state-changing request of the
	// session.
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Token is an API token for scripts. A token acts for the user it
// belongs to (UserID), or, when System, for the installation itself.
type Token struct {
	ID   int64
	Name string
	// Hash is the SHA-256 of the token's secret.
	Hash string
	// Role is the most the token may do; its user's role caps it.
	Role Role
	// UserID is the user the token acts for; 0 for a system token, or for
	// a token made before tokens had owners whose maker was deleted.
	UserID int64
	// System marks a token of the installation itself, such as the local
	// CLI's, which belongs to no user.
	System    bool
	CreatedBy string
	CreatedAt time.Time
	// ExpiresAt is nil for a token that does not expire.
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	// User is the token's user as it is now, read with the token by
	// TokenGet and TokenList; nil when the token has none.
	User *User
}
