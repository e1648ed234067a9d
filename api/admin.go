package api

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := a.st.UserList(r.Context())
	if err != nil {
		return err
	}
	out := make([]User, 0, len(users))
	for _, u := range users {
		out = append(out, userOut(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkUserName accepts a name people can type and read: 1 to 64
// printable characters without spaces.
func checkUserName(name string) error {
	if name == "" || len(name) > 64 || strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return sluice.Errorf(sluice.EINVALID, "user name %q: want 1 to 64 printable characters without spaces", name)
	}
	return nil
}

func checkRole(role string) error {
	if !store.Role(role).Valid() {
		return sluice.Errorf(sluice.EINVALID, "role %q: want viewer, operator or admin", role)
	}
	return nil
}

func hashPassword(password string) (string, error) {
	hash, err := auth.HashPassword(password)
	if err != nil {
		// The only failure a caller can cause is a short password.
		return "", sluice.Errorf(sluice.EINVALID, "password: %v", err)
	}
	return hash, nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req UserCreate
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := checkUserName(req.Name); err != nil {
		return err
	}
	if err := checkRole(req.Role); err != nil {
		return err
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return err
	}
	u, err := a.st.UserCreate(r.Context(), &store.UserCreateParams{Name: req.Name, PasswordHash: hash, Role: store.Role(req.Role)})
	if err != nil {
		return err
	}
	a.logger(r).Info("user created", "user", u.Name, "role", string(u.Role), "by", by(r))
	writeJSON(w, http.StatusCreated, userOut(u))
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	var req UserUpdate
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	u, err := a.st.UserGet(ctx, name)
	if err != nil {
		return err
	}
	p := &store.UserUpdateParams{Name: name, Disabled: req.Disabled}
	if req.Role != nil {
		if err := checkRole(*req.Role); err != nil {
			return err
		}
		role := store.Role(*req.Role)
		p.Role = &role
	}
	if req.Password != nil {
		hash, err := hashPassword(*req.Password)
		if err != nil {
			return err
		}
		p.PasswordHash = &hash
	}
	losesAdmin := u.Role == store.RoleAdmin && !u.Disabled &&
		((p.Role != nil && *p.Role != store.RoleAdmin) || (p.Disabled != nil && *p.Disabled))
	if losesAdmin {
		if err := a.keepAnAdmin(ctx, name, "demote or disable"); err != nil {
			return err
		}
	}
	if err := a.st.UserUpdate(ctx, p); err != nil {
		return err
	}
	if u, err = a.st.UserGet(ctx, name); err != nil {
		return err
	}
	a.logger(r).Info("user changed", "user", name, "role", string(u.Role), "disabled", u.Disabled, "password_changed", p.PasswordHash != nil, "by", by(r))
	writeJSON(w, http.StatusOK, userOut(u))
	return nil
}

// keepAnAdmin refuses to remove the admin role from the last enabled
// admin: nobody could manage users any more. (Two admins removing each
// other at the same instant could still both succeed; the server's first
// start makes a new admin only when there are no users at all.)
func (a *API) keepAnAdmin(ctx context.Context, name, what string) error {
	users, err := a.st.UserList(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name != name && u.Role == store.RoleAdmin && !u.Disabled {
			return nil
		}
	}
	return sluice.Errorf(sluice.ECONFLICT, "%q is the last enabled admin: make another user admin before you %s them", name, what)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if p := auth.FromContext(ctx); p.Via == "session" && p.Name == name {
		return sluice.Errorf(sluice.ECONFLICT, "you cannot delete yourself: ask another admin")
	}
	u, err := a.st.UserGet(ctx, name)
	if err != nil {
		return err
	}
	if u.Role == store.RoleAdmin && !u.Disabled {
		if err := a.keepAnAdmin(ctx, name, "delete"); err != nil {
			return err
		}
	}
	if err := a.st.UserDelete(ctx, name); err != nil {
		return err
	}
	a.logger(r).Info("user deleted", "user", name, "by", by(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	tokens, err := a.st.TokenList(r.Context())
	if err != nil {
		return err
	}
	out := make([]Token, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, tokenOut(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenCreate
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := checkRole(req.Role); err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = req.Role + " token of " + p.Name
		if req.User != "" {
			name = req.Role + " token of " + req.User
		}
	}
	if len(name) > 200 {
		return sluice.Errorf(sluice.EINVALID, "token name: at most 200 characters")
	}
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := pipeline.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return sluice.Errorf(sluice.EINVALID, "expires_in %q: want a positive duration such as 720h or 30d", req.ExpiresIn)
		}
		t := a.clock.Now().Add(time.Duration(d)).UTC()
		expires = &t
	}
	secret, hash := auth.NewToken()
	var (
		tk  *store.Token
		err error
	)
	if req.User != "" {
		u, err := a.st.UserGet(r.Context(), req.User)
		if sluice.ErrorCode(err) == sluice.ENOTFOUND {
			return sluice.Errorf(sluice.EINVALID, "user %q: no such user", req.User)
		}
		if err != nil {
			return err
		}
		if tk, err = p.NewTokenFor(u, name, hash, store.Role(req.Role), expires); err != nil {
			return err
		}
	} else if tk, err = p.NewToken(name, hash, store.Role(req.Role), expires); err != nil {
		return err
	}
	tk, err = a.st.TokenCreate(r.Context(), tk)
	if err != nil {
		return err
	}
	a.logger(r).Info("API token created", "token", tk.ID, "name", tk.Name, "role", string(tk.Role), "for", tokenOut(tk).User, "by", by(r))
	writeJSON(w, http.StatusCreated, NewToken{Token: tokenOut(tk), Secret: secret})
	return nil
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "token")
	if err != nil {
		return err
	}
	if err := a.st.TokenDelete(r.Context(), id); err != nil {
		return err
	}
	a.logger(r).Info("API token revoked", "token", id, "by", by(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
