package web

import (
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
)

type loginData struct {
	Name, Next, Problem string
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if auth.FromContext(r.Context()) != nil {
		http.Redirect(rw, r, next, http.StatusSeeOther)
		return
	}
	v := w.newView(r, "Log in", "", &loginData{Next: next})
	if err := w.render(rw, http.StatusOK, "login", v); err != nil {
		w.fail(rw, r, err)
	}
}

func (w *Web) loginPost(rw http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	if _, err := w.cfg.Auth.Login(rw, r, name, password); err != nil {
		st := status(sluice.ErrorCode(err))
		msg := sluice.ErrorMessage(err)
		if st == http.StatusInternalServerError {
			w.log.Error("login failed", "err", err)
			msg = "The server could not check the password; try again."
		}
		v := w.newView(r, "Log in", "", &loginData{Name: name, Next: next, Problem: msg})
		v.User = nil
		if err := w.render(rw, st, "login", v); err != nil {
			w.fail(rw, r, err)
		}
		return
	}
	http.Redirect(rw, r, next, http.StatusSeeOther)
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) error {
	if err := w.cfg.Auth.Logout(rw, r); err != nil {
		return err
	}
	if isHTMX(r) {
		rw.Header().Set("HX-Redirect", "/login")
		return nil
	}
	http.Redirect(rw, r, "/login", http.StatusSeeOther)
	return nil
}
