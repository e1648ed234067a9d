package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

type usersData struct {
	Users   []*store.User
	Roles   []store.Role
	Name    string
	Role    string
	Problem string
}

type tokensData struct {
	Tokens []*store.Token
	Roles  []store.Role
	Expiry []expiryChoice
	// Users are those a token may be made for; For is the one chosen,
	// empty for the user making it.
	Users   []*store.User
	For     string
	Name    string
	Role    string
	Expires string
	Problem string
	// Secret is the token just created, shown once.
	Secret  string
	Created *store.Token
}

type expiryChoice struct{ Value, Label string }

var expiryChoices = []expiryChoice{
	{"1", "1 day"}, {"7", "7 days"}, {"30", "30 days"}, {"90", "90 days"}, {"365", "1 year"}, {"never", "never"},
}

var userName = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

func (w *Web) usersPage(rw http.ResponseWriter, r *http.Request) error {
	return w.renderUsers(rw, r, http.StatusOK, &usersData{Role: string(store.RoleViewer)})
}

func (w *Web) renderUsers(rw http.ResponseWriter, r *http.Request, st int, d *usersData) error {
	users, err := w.st.UserList(r.Context())
	if err != nil {
		return err
	}
	d.Users, d.Roles = users, store.Roles
	return w.render(rw, st, "users", w.newView(r, "Users", "admin", d))
}

func (w *Web) userCreate(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	d := &usersData{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role")}
	role := store.Role(d.Role)
	switch {
	case !userName.MatchString(d.Name):
		d.Problem = "A user name has 1 to 64 letters, digits, _ . @ or -."
	case !role.Valid():
		d.Problem = "Choose a role: viewer, operator or admin."
	}
	if d.Problem == "" {
		hash, err := auth.HashPassword(r.PostFormValue("password"))
		if err != nil {
			d.Problem = "The password is not good enough: " + err.Error() + "."
		} else if _, err := w.st.UserCreate(ctx, &store.UserCreateParams{Name: d.Name, PasswordHash: hash, Role: role}); err != nil {
			if sluice.ErrorCode(err) != sluice.ECONFLICT {
				return err
			}
			d.Problem = fmt.Sprintf("There is already a user named %q.", d.Name)
		} else {
			w.log.Info("user created", "user", d.Name, "role", role, "by", auth.FromContext(ctx).Name)
			return w.done(rw, r, "/admin/users", fmt.Sprintf("User %s created as %s.", d.Name, role))
		}
	}
	return w.renderUsers(rw, r, http.StatusUnprocessableEntity, d)
}

// notSelf refuses an admin's change to their own account that could lock
// them out.
func notSelf(r *http.Request, name, what string) error {
	if p := auth.FromContext(r.Context()); p != nil && strings.EqualFold(p.Name, name) {
		return sluice.Errorf(sluice.ECONFLICT, "you cannot %s your own account: ask another admin", what)
	}
	return nil
}

func (w *Web) userRole(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	role := store.Role(r.PostFormValue("role"))
	if !role.Valid() {
		return sluice.Errorf(sluice.EINVALID, "%q is not a role: choose viewer, operator or admin", role)
	}
	if err := notSelf(r, name, "change the role of"); err != nil {
		return err
	}
	if err := w.st.UserUpdate(r.Context(), &store.UserUpdateParams{Name: name, Role: &role}); err != nil {
		return err
	}
	w.log.Info("user role changed", "user", name, "role", role, "by", auth.FromContext(r.Context()).Name)
	return w.done(rw, r, "/admin/users", fmt.Sprintf("%s is now %s.", name, role))
}

func (w *Web) userDisabled(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	disabled := r.PostFormValue("disabled") == "true"
	if err := notSelf(r, name, "disable"); err != nil && disabled {
		return err
	}
	if err := w.st.UserUpdate(r.Context(), &store.UserUpdateParams{Name: name, Disabled: &disabled}); err != nil {
		return err
	}
	w.log.Info("user disabled", "user", name, "disabled", disabled, "by", auth.FromContext(r.Context()).Name)
	msg := fmt.Sprintf("%s is disabled and logged out everywhere.", name)
	if !disabled {
		msg = fmt.Sprintf("%s is enabled and may log in again.", name)
	}
	return w.done(rw, r, "/admin/users", msg)
}

func (w *Web) userPassword(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	hash, err := auth.HashPassword(r.PostFormValue("password"))
	if err != nil {
		return sluice.Errorf(sluice.EINVALID, "the new password of %s is not good enough: %v", name, err)
	}
	if err := w.st.UserUpdate(r.Context(), &store.UserUpdateParams{Name: name, PasswordHash: &hash}); err != nil {
		return err
	}
	w.log.Info("user password set", "user", name, "by", auth.FromContext(r.Context()).Name)
	return w.done(rw, r, "/admin/users", fmt.Sprintf("The password of %s is changed.", name))
}

func (w *Web) userDelete(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := notSelf(r, name, "delete"); err != nil {
		return err
	}
	if err := w.st.UserDelete(r.Context(), name); err != nil {
		return err
	}
	w.log.Info("user deleted", "user", name, "by", auth.FromContext(r.Context()).Name)
	return w.done(rw, r, "/admin/users", fmt.Sprintf("User %s deleted.", name))
}

func (w *Web) tokensPage(rw http.ResponseWriter, r *http.Request) error {
	return w.renderTokens(rw, r, http.StatusOK, &tokensData{Role: string(store.RoleViewer), Expires: "90"})
}

func (w *Web) renderTokens(rw http.ResponseWriter, r *http.Request, st int, d *tokensData) error {
	tokens, err := w.st.TokenList(r.Context())
	if err != nil {
		return err
	}
	users, err := w.st.UserList(r.Context())
	if err != nil {
		return err
	}
	d.Tokens, d.Roles, d.Expiry = tokens, store.Roles, expiryChoices
	me := auth.FromContext(r.Context())
	for _, u := range users {
		if !u.Disabled && (me == nil || u.ID != me.UserID) {
			d.Users = append(d.Users, u)
		}
	}
	return w.render(rw, st, "tokens", w.newView(r, "API tokens", "admin", d))
}

func (w *Web) tokenCreate(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	d := &tokensData{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role"), Expires: r.PostFormValue("expires"), For: r.PostFormValue("for")}
	role := store.Role(d.Role)
	var (
		expires *time.Time
		forUser *store.User
	)
	if d.For != "" {
		u, err := w.st.UserGet(ctx, d.For)
		if err != nil && sluice.ErrorCode(err) != sluice.ENOTFOUND {
			return err
		}
		forUser = u
	}
	switch {
	case d.For != "" && forUser == nil:
		d.Problem = fmt.Sprintf("There is no user %q.", d.For)
	case d.Name == "" || len(d.Name) > 100:
		d.Problem = "Name the token (up to 100 characters) after what uses it, such as \"nightly backfill job\"."
	case !role.Valid():
		d.Problem = "Choose a role: viewer, operator or admin."
	case d.Expires != "never":
		days, err := strconv.Atoi(d.Expires)
		if err != nil || days < 1 || days > 3650 {
			d.Problem = "Choose when the token expires."
			break
		}
		t := w.clock.Now().Add(time.Duration(days) * 24 * time.Hour)
		expires = &t
	}
	if d.Problem != "" {
		return w.renderTokens(rw, r, http.StatusUnprocessableEntity, d)
	}
	secret, hash := auth.NewToken()
	var (
		tk  *store.Token
		err error
	)
	if forUser != nil {
		tk, err = auth.FromContext(ctx).NewTokenFor(forUser, d.Name, hash, role, expires)
	} else {
		tk, err = auth.FromContext(ctx).NewToken(d.Name, hash, role, expires)
	}
	if sluice.ErrorCode(err) == sluice.EINVALID {
		d.Problem = sluice.ErrorMessage(err)
		return w.renderTokens(rw, r, http.StatusUnprocessableEntity, d)
	}
	if err != nil {
		return err
	}
	tk, err = w.st.TokenCreate(ctx, tk)
	if err != nil {
		return err
	}
	w.log.Info("API token created", "token", tk.Name, "role", role, "by", auth.FromContext(ctx).Name)
	return w.renderTokens(rw, r, http.StatusOK, &tokensData{Role: string(store.RoleViewer), Expires: "90", Secret: secret, Created: tk})
}

func (w *Web) tokenRevoke(rw http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := w.st.TokenDelete(r.Context(), id); err != nil {
		return err
	}
	w.log.Info("API token revoked", "token", id, "by", auth.FromContext(r.Context()).Name)
	return w.done(rw, r, "/admin/tokens", fmt.Sprintf("Token %d revoked: it no longer works.", id))
}
