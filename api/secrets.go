package api

import (
	"context"
	"net/http"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/secret"
)

// Secrets and variables. A secret's value goes one way only: into the
// store, sealed. No response, log line or error message carries it.

func (a *API) listSecrets(w http.ResponseWriter, r *http.Request) error {
	list, err := a.st.SecretList(r.Context())
	if err != nil {
		return err
	}
	out := make([]Secret, 0, len(list))
	for _, s := range list {
		out = append(out, Secret{Name: s.Name, CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) setSecret(w http.ResponseWriter, r *http.Request) error {
	var req SecretSet
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	name := r.PathValue("name")
	if req.Value == "" {
		return sluice.Errorf(sluice.EINVALID, "secret %q: the value is empty; delete the secret instead to remove it", name)
	}
	if !a.ctl.CanSetSecrets() {
		return sluice.Errorf(sluice.ECONFLICT, "this server has no secret key, so it cannot store secrets: start it with $%s set "+
			"(32 random bytes in base64, e.g. from 'openssl rand -base64 32'; the same on every worker)", secret.EnvVar)
	}
	if err := a.ctl.SecretSet(r.Context(), name, []byte(req.Value), by(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	if err := a.ctl.SecretDelete(r.Context(), r.PathValue("name"), by(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listVariables(w http.ResponseWriter, r *http.Request) error {
	list, err := a.st.VariableList(r.Context())
	if err != nil {
		return err
	}
	out := make([]Variable, 0, len(list))
	for _, v := range list {
		out = append(out, Variable{Name: v.Name, Value: v.Value, UpdatedAt: utc(v.UpdatedAt)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// variable returns one variable.
func (a *API) variable(ctx context.Context, name string) (*Variable, error) {
	list, err := a.st.VariableList(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range list {
		if v.Name == name {
			return &Variable{Name: v.Name, Value: v.Value, UpdatedAt: utc(v.UpdatedAt)}, nil
		}
	}
	return nil, sluice.Errorf(sluice.ENOTFOUND, "variable %q not found", name)
}

func (a *API) getVariable(w http.ResponseWriter, r *http.Request) error {
	v, err := a.variable(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) setVariable(w http.ResponseWriter, r *http.Request) error {
	var req VariableSet
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	name := r.PathValue("name")
	if req.Value == nil {
		return sluice.Errorf(sluice.EINVALID, "variable %q: value is required (it may be empty)", name)
	}
	ctx := r.Context()
	if err := a.ctl.VariableSet(ctx, name, *req.Value, by(r)); err != nil {
		return err
	}
	v, err := a.variable(ctx, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) deleteVariable(w http.ResponseWriter, r *http.Request) error {
	if err := a.ctl.VariableDelete(r.Context(), r.PathValue("name"), by(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
