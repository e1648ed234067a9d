package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/pipeline"
)

// codeMethodNotAllowed is the error code of a known path asked with a
// method it does not have. It exists only on the wire.
const codeMethodNotAllowed = "method_not_allowed"

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 1 << 20

// Status returns the HTTP status of an error code. This is the only place
// that maps the domain's codes to statuses.
func Status(code string) int {
	switch code {
	case sluice.EBADREQUEST:
		return http.StatusBadRequest
	case sluice.EUNAUTH:
		return http.StatusUnauthorized
	case sluice.EFORBIDDEN:
		return http.StatusForbidden
	case sluice.ENOTFOUND:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case sluice.ECONFLICT:
		return http.StatusConflict
	case sluice.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case sluice.EINVALID:
		return http.StatusUnprocessableEntity
	case sluice.ERATELIMIT:
		return http.StatusTooManyRequests
	case sluice.EUNAVAIL:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody turns an error into the status and body of its response. An
// error that is not a *sluice.Error with a known code is a 500 that says
// only "internal error": it may carry internals.
func errorBody(err error) (int, ErrorBody) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, ErrorBody{Code: sluice.ETOOLARGE, Message: fmt.Sprintf("the request body is over the limit of %d bytes", mbe.Limit)}
	}
	var e *sluice.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, ErrorBody{Code: sluice.EINTERNAL, Message: "internal error"}
	}
	status := Status(e.Code)
	if status == http.StatusInternalServerError {
		return status, ErrorBody{Code: sluice.EINTERNAL, Message: "internal error"}
	}
	body := ErrorBody{Code: e.Code, Message: e.Message, Details: e.Details}
	if list, ok := e.Details.(pipeline.ErrorList); ok {
		errs := make([]FileError, len(list))
		for i, fe := range list {
			errs[i] = FileError{File: fe.File, Line: fe.Line, Col: fe.Col, Message: fe.Msg, Hint: fe.Hint}
		}
		body.Details = errs
	}
	return status, body
}

// writeError writes err as the JSON error response, logging what a 500
// hides.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorBody(err)
	if status == http.StatusInternalServerError {
		a.logger(r).Error("api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(int(auth.LoginWindow.Seconds())))
	}
	writeJSON(w, status, ErrorResponse{Error: body})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON request body into v. Unknown fields are refused,
// so a misspelt field is an error rather than silently ignored. An empty
// body leaves v as it is when optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.Is(err, io.EOF):
			if optional {
				return nil
			}
			return sluice.Errorf(sluice.EBADREQUEST, "the request needs a JSON body")
		}
		return sluice.Errorf(sluice.EBADREQUEST, "the request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return sluice.Errorf(sluice.EBADREQUEST, "the request body has more after its JSON value")
	}
	return nil
}

// pathInt reads a numeric path value such as a run id.
func pathInt(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, sluice.Errorf(sluice.EBADREQUEST, "%s %q: want a positive number", name, s)
	}
	return n, nil
}
