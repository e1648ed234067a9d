package api

import (
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
)

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req LoginRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.User == "" || req.Password == "" {
		return sluice.Errorf(sluice.EINVALID, "give a user and a password")
	}
	p, err := a.auth.Login(w, r, req.User, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, LoginResult{User: p.Name, Role: string(p.Role), CSRFToken: p.CSRFToken})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if err := a.auth.Logout(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, Me{Name: p.Name, Role: string(p.Role), Via: p.Via, Token: p.Token, CSRFToken: p.CSRFToken})
	return nil
}
