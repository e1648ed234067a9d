package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

const userColumns = `id, name, password_hash, role, disabled, created_at, zone_pref`

func scanUser(sc interface{ Scan(...any) error }) (*store.User, error) {
	var (
		u       store.User
		role    string
		created int64
	)
	if err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &role, &u.Disabled, &created, &u.ZonePref); err != nil {
		return nil, err
	}
	u.Role = store.Role(role)
	u.CreatedAt = fromUS(created)
	return &u, nil
}

// UserCreate implements store.Auth.
func (db *DB) UserCreate(ctx context.Context, p *store.UserCreateParams) (*store.User, error) {
	if !p.Role.Valid() {
		return nil, sluice.Errorf(sluice.EINVALID, "role %q: want viewer, operator or admin", p.Role)
	}
	var u *store.User
	err := db.inTx(ctx, "UserCreate", func(t *txn) error {
		now := us(t.now)
		var id int64
		err := t.queryRow(`INSERT INTO users (name, password_hash, role, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`,
			p.Name, p.PasswordHash, string(p.Role), false, now, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return sluice.Errorf(sluice.ECONFLICT, "user %q already exists", p.Name)
		}
		if err != nil {
			return err
		}
		u = &store.User{ID: id, Name: p.Name, PasswordHash: p.PasswordHash, Role: p.Role, CreatedAt: fromUS(now)}
		return nil
	})
	return u, dbErr(err)
}

// UserGet implements store.Auth.
func (db *DB) UserGet(ctx context.Context, name string) (*store.User, error) {
	u, err := scanUser(db.readRow(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "user %q not found", name)
	}
	return u, dbErr(err)
}

// UserList implements store.Auth.
func (db *DB) UserList(ctx context.Context) ([]*store.User, error) {
	rows, err := db.read(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, u)
	}
	return out, dbErr(rows.Err())
}

// UserUpdate implements store.Auth.
func (db *DB) UserUpdate(ctx context.Context, p *store.UserUpdateParams) error {
	return dbErr(db.inTx(ctx, "UserUpdate", func(t *txn) error {
		sets := []string{"updated_at = ?"}
		args := []any{us(t.now)}
		if p.PasswordHash != nil {
			sets, args = append(sets, "password_hash = ?"), append(args, *p.PasswordHash)
		}
		if p.Role != nil {
			if !p.Role.Valid() {
				return sluice.Errorf(sluice.EINVALID, "role %q: want viewer, operator or admin", *p.Role)
			}
			sets, args = append(sets, "role = ?"), append(args, string(*p.Role))
		}
		if p.Disabled != nil {
			sets, args = append(sets, "disabled = ?"), append(args, *p.Disabled)
		}
		if p.ZonePref != nil {
			if *p.ZonePref != "" && !slices.Contains(store.ZonePrefs, *p.ZonePref) {
				return sluice.Errorf(sluice.EINVALID, "zone %q: want local, utc or pipeline", *p.ZonePref)
			}
			sets, args = append(sets, "zone_pref = ?"), append(args, *p.ZonePref)
		}
		admins, err := lockAdmins(t)
		if err != nil {
			return err
		}
		res, err := t.exec(`UPDATE users SET `+strings.Join(sets, ", ")+` WHERE name = ?`, append(args, p.Name)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "user %q not found", p.Name)
		}
		if err := keepAnAdmin(t, admins, p.Name); err != nil {
			return err
		}
		if (p.Disabled != nil && *p.Disabled) || p.PasswordHash != nil {
			// A disabled user, or one whose password changed, is logged out.
			_, err = t.exec(`DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)`, p.Name)
		}
		return err
	}))
}

// UserDelete implements store.Auth.
func (db *DB) UserDelete(ctx context.Context, name string) error {
	return dbErr(db.inTx(ctx, "UserDelete", func(t *txn) error {
		admins, err := lockAdmins(t)
		if err != nil {
			return err
		}
		res, err := t.exec(`DELETE FROM users WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "user %q not found", name)
		}
		return keepAnAdmin(t, admins, name)
	}))
}

// UserCount implements store.Auth.
func (db *DB) UserCount(ctx context.Context) (int, error) {
	var n int
	err := db.readRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, dbErr(err)
}

// SessionCreate implements store.Auth.
func (db *DB) SessionCreate(ctx context.Context, s *store.Session) error {
	return dbErr(db.inTx(ctx, "SessionCreate", func(t *txn) error {
		// Sessions that ended are cleaned up as new ones begin.
		if _, err := t.exec(`DELETE FROM sessions WHERE expires_at < ?`, us(t.now)); err != nil {
			return err
		}
		_, err := t.exec(`INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			s.IDHash, s.UserID, s.CSRFToken, us(s.CreatedAt), us(s.ExpiresAt))
		return err
	}))
}

// SessionGet implements store.Auth.
func (db *DB) SessionGet(ctx context.Context, idHash string) (*store.Session, *store.User, error) {
	var (
		s                store.Session
		created, expires int64
	)
	row := db.readRow(ctx, db.q(`SELECT s.id_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at,
		u.id, u.name, u.password_hash, u.role, u.disabled, u.created_at, u.zone_pref
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = ?`), idHash, us(db.now()), false)
	var (
		u        store.User
		role     string
		uCreated int64
	)
	err := row.Scan(&s.IDHash, &s.UserID, &s.CSRFToken, &created, &expires, &u.ID, &u.Name, &u.PasswordHash, &role, &u.Disabled, &uCreated, &u.ZonePref)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, sluice.Errorf(sluice.ENOTFOUND, "no such session")
	}
	if err != nil {
		return nil, nil, dbErr(err)
	}
	s.CreatedAt, s.ExpiresAt = fromUS(created), fromUS(expires)
	u.Role, u.CreatedAt = store.Role(role), fromUS(uCreated)
	return &s, &u, nil
}

// SessionDelete implements store.Auth.
func (db *DB) SessionDelete(ctx context.Context, idHash string) error {
	return dbErr(db.inTx(ctx, "SessionDelete", func(t *txn) error {
		_, err := t.exec(`DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	}))
}

// tokenSelect reads tokens with their users. A token without user_id
// that is not a system token was made by a process older than token
// owners (during a rolling upgrade): its user is the one its created_by
// names, if that user existed when the token was made.
const tokenSelect = `SELECT t.id, t.name, t.hash, t.role, t.user_id, t.system, t.created_by, t.created_at, t.expires_at, t.last_used_at,
	u.id, u.name, u.role, u.disabled, u.created_at
	FROM tokens t LEFT JOIN users u ON u.id = t.user_id
		OR (t.user_id IS NULL AND NOT t.system AND u.name = t.created_by AND u.created_at <= t.created_at)`

func scanToken(sc interface{ Scan(...any) error }) (*store.Token, error) {
	var (
		tk            store.Token
		role          string
		userID        sql.NullInt64
		created       int64
		expires, used sql.NullInt64
		uID, uCreated sql.NullInt64
		uName, uRole  sql.NullString
		uDisabled     sql.NullBool
	)
	if err := sc.Scan(&tk.ID, &tk.Name, &tk.Hash, &role, &userID, &tk.System, &tk.CreatedBy, &created, &expires, &used,
		&uID, &uName, &uRole, &uDisabled, &uCreated); err != nil {
		return nil, err
	}
	tk.Role = store.Role(role)
	tk.UserID = userID.Int64
	tk.CreatedAt = fromUS(created)
	tk.ExpiresAt = fromNullUS(expires)
	tk.LastUsedAt = fromNullUS(used)
	if uID.Valid {
		tk.User = &store.User{ID: uID.Int64, Name: uName.String, Role: store.Role(uRole.String), Disabled: uDisabled.Bool, CreatedAt: fromUS(uCreated.Int64)}
	}
	return &tk, nil
}

// TokenCreate implements store.Auth.
func (db *DB) TokenCreate(ctx context.Context, tk *store.Token) (*store.Token, error) {
	if !tk.Role.Valid() {
		return nil, sluice.Errorf(sluice.EINVALID, "role %q: want viewer, operator or admin", tk.Role)
	}
	if (tk.UserID == 0) == !tk.System {
		return nil, sluice.Errorf(sluice.EINVALID, "a token belongs to a user or is a system token, one of the two")
	}
	out := *tk
	err := db.inTx(ctx, "TokenCreate", func(t *txn) error {
		out.CreatedAt = t.now
		var userID any
		if tk.UserID != 0 {
			userID = tk.UserID
			u, err := scanUser(t.queryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, tk.UserID))
			if errors.Is(err, sql.ErrNoRows) {
				return sluice.Errorf(sluice.ENOTFOUND, "the token's user no longer exists")
			}
			if err != nil {
				return err
			}
			u.PasswordHash = ""
			out.User = u
		}
		return t.queryRow(`INSERT INTO tokens (name, hash, role, user_id, system, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			tk.Name, tk.Hash, string(tk.Role), userID, tk.System, tk.CreatedBy, us(t.now), usPtr(tk.ExpiresAt)).Scan(&out.ID)
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return &out, nil
}

// TokenGet implements store.Auth.
func (db *DB) TokenGet(ctx context.Context, hash string) (*store.Token, error) {
	now := db.now()
	tk, err := scanToken(db.readRow(ctx, db.q(tokenSelect+`
		WHERE t.hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)`), hash, us(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sluice.Errorf(sluice.ENOTFOUND, "no such token")
	}
	if err != nil {
		return nil, dbErr(err)
	}
	// Record the use at most once a minute: a busy script must not turn
	// every read into a write.
	if tk.LastUsedAt == nil || now.Sub(*tk.LastUsedAt) > time.Minute {
		_ = db.inTx(ctx, "TokenGet", func(t *txn) error {
			_, err := t.exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, us(now), tk.ID)
			return err
		})
	}
	return tk, nil
}

// TokenList implements store.Auth.
func (db *DB) TokenList(ctx context.Context) ([]*store.Token, error) {
	rows, err := db.read(ctx, tokenSelect+` ORDER BY t.id DESC`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*store.Token
	for rows.Next() {
		tk, err := scanToken(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, tk)
	}
	return out, dbErr(rows.Err())
}

// TokenDelete implements store.Auth.
func (db *DB) TokenDelete(ctx context.Context, id int64) error {
	return dbErr(db.inTx(ctx, "TokenDelete", func(t *txn) error {
		res, err := t.exec(`DELETE FROM tokens WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sluice.Errorf(sluice.ENOTFOUND, "token %d not found", id)
		}
		return nil
	}))
}

// LoginAttemptAdd implements store.Auth.
func (db *DB) LoginAttemptAdd(ctx context.Context, attempt string, keys []string, before time.Time) error {
	return dbErr(db.inTx(ctx, "LoginAttemptAdd", func(t *txn) error {
		if _, err := t.exec(`DELETE FROM login_failures WHERE at < ?`, us(before)); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := t.exec(`INSERT INTO login_failures (key, at, attempt) VALUES (?, ?, ?)`, k, us(t.now), attempt); err != nil {
				return err
			}
		}
		return nil
	}))
}

// LoginAttemptForget implements store.Auth.
func (db *DB) LoginAttemptForget(ctx context.Context, attempt string) error {
	if attempt == "" {
		return sluice.Errorf(sluice.EINVALID, "no login attempt named")
	}
	return dbErr(db.inTx(ctx, "LoginAttemptForget", func(t *txn) error {
		_, err := t.exec(`DELETE FROM login_failures WHERE attempt = ?`, attempt)
		return err
	}))
}

// LoginFailureCount implements store.Auth.
func (db *DB) LoginFailureCount(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := db.readRow(ctx, db.q(`SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?`), key, us(since)).Scan(&n)
	return n, dbErr(err)
}

// lockAdmins locks the admins' rows, so two transactions cannot each
// remove one of the last two admins, and counts the enabled ones.
func lockAdmins(t *txn) (int, error) {
	if _, err := t.ids(`SELECT id FROM users WHERE role = 'admin' ORDER BY id` + t.db.d.ForUpdate); err != nil {
		return 0, err
	}
	return t.count(`SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = ?`, false)
}

// keepAnAdmin fails the transaction when it removed the last enabled
// admin: nobody could manage users any more.
func keepAnAdmin(t *txn, before int, name string) error {
	n, err := t.count(`SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = ?`, false)
	if err != nil || n > 0 || before == 0 {
		return err
	}
	return sluice.Errorf(sluice.ECONFLICT, "%q is the last enabled admin: make another user admin first", name)
}
