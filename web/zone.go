package web

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice"
)

// zonePost sets the reader's choice of zone for times in a cookie and
// goes back to the page the picker was on. The choice is the reader's,
// not the server's: any web process reads it from the next request.
func (w *Web) zonePost(rw http.ResponseWriter, r *http.Request) error {
	choice := r.PostFormValue("zone")
	switch choice {
	case zoneLocal, zoneUTC, zonePipeline:
	default:
		return sluice.Errorf(sluice.EBADREQUEST, "zone %q: want local, utc or pipeline", choice)
	}
	http.SetCookie(rw, &http.Cookie{
		Name: zonePrefCookie, Value: choice, Path: "/",
		Expires: w.clock.Now().Add(365 * 24 * time.Hour), MaxAge: 365 * 24 * 3600,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	http.Redirect(rw, r, backTo(r, "/"), http.StatusSeeOther)
	return nil
}
