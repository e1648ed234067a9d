package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// Secrets are shown by name and dates only. Their values go one way, from
// the form to control.SecretSet: no page, notice or problem shows one, and
// a form sent back with a problem comes back without it.

type secretsData struct {
	Secrets []*store.Secret
	Form    *entryForm
	// CanSet tells whether this process has the key to store secrets.
	CanSet bool
	// KeyEnv is the environment variable of the key.
	KeyEnv string
}

func (w *Web) loadSecrets(ctx context.Context) (*secretsData, error) {
	list, err := w.st.SecretList(ctx)
	if err != nil {
		return nil, err
	}
	return &secretsData{Secrets: list, Form: &entryForm{}, CanSet: w.ctl.CanSetSecrets(), KeyEnv: secret.EnvVar}, nil
}

func (w *Web) secretsPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadSecrets(r.Context())
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("edit"); name != "" {
		for _, s := range d.Secrets {
			if s.Name == name {
				d.Form = &entryForm{Name: s.Name, Editing: true}
			}
		}
	}
	return w.render(rw, http.StatusOK, "secrets", w.newView(r, "Secrets", "secrets", d))
}

func (w *Web) secretsLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadSecrets(r.Context())
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "secrets-live", w.newView(r, "", "", d))
}

func (w *Web) secretSet(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f := &entryForm{Name: strings.TrimSpace(r.PostFormValue("name")), Editing: r.PostFormValue("editing") == "true"}
	value := r.PostFormValue("value")
	existed := false
	if list, err := w.st.SecretList(ctx); err == nil {
		for _, s := range list {
			existed = existed || s.Name == f.Name
		}
	}
	err := error(nil)
	if value == "" {
		err = sluice.Errorf(sluice.EINVALID, "Type the secret's value: it is stored encrypted and never shown again.")
	} else {
		err = w.ctl.SecretSet(ctx, f.Name, []byte(value), auth.FromContext(ctx).Name)
	}
	if err != nil {
		se := fixable(err)
		if se == nil {
			return err
		}
		d, err := w.loadSecrets(ctx)
		if err != nil {
			return err
		}
		// The message is control's or ours, and names the secret at most;
		// the value is not sent back.
		f.Problem, d.Form = se.Message, f
		return w.formProblem(rw, r, problemStatus(se), "secrets", "secret-form", "secret-form", w.newView(r, "Secrets", "secrets", d))
	}
	msg := fmt.Sprintf("Secret %s stored, encrypted. Tasks that declare it get it as $%s.", f.Name, f.Name)
	if existed {
		msg = fmt.Sprintf("Secret %s replaced: tasks that start from now on get the new value.", f.Name)
	}
	return w.formOK(rw, r, "/secrets", msg, "secret-form", w.newView(r, "", "", &secretsData{Form: &entryForm{OOB: true}, CanSet: true, KeyEnv: secret.EnvVar}))
}

func (w *Web) secretDelete(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := w.ctl.SecretDelete(r.Context(), name, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	return w.done(rw, r, "/secrets", fmt.Sprintf("Secret %s deleted: tasks that declare it fail until it is set again.", name))
}
