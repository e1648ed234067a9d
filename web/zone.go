package web

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// zonePost sets the reader's choice of zone for times, for the
// logged-in user (kept with the user, so it follows them to every
// browser) and in a cookie (for --auth none), and goes back to the page
// the picker was on. Any web process reads it from the next request.
func (w *Web) zonePost(rw http.ResponseWriter, r *http.Request) error {
	choice := r.PostFormValue("zone")
	switch choice {
	case zoneLocal, zoneUTC, zonePipeline:
	default:
		return sluice.Errorf(sluice.EBADREQUEST, "zone %q: want local, utc or pipeline", choice)
	}
	if p := auth.FromContext(r.Context()); p != nil && p.Via == "session" && p.ZonePref != choice {
		if err := w.st.UserUpdate(r.Context(), &store.UserUpdateParams{Name: p.Name, ZonePref: &choice}); err != nil {
			return err
		}
	}
	http.SetCookie(rw, &http.Cookie{
		Name: zonePrefCookie, Value: choice, Path: "/",
		Expires: w.clock.Now().Add(365 * 24 * time.Hour), MaxAge: 365 * 24 * 3600,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	http.Redirect(rw, r, backTo(r, "/"), http.StatusSeeOther)
	return nil
}
