// Package sluice holds the domain of the sluice workflow orchestrator: the
// states of runs, task instances and attempts, the retry policy, the clock,
// and the one error type every layer uses. Implementations live in packages
// named after what they wrap (store/sqlite, executor, …); cmd/sluice wires
// them together.
package sluice

import (
	"errors"
	"fmt"
)

// Error codes. Only the HTTP layer maps them to statuses.
const (
	ECONFLICT   = "conflict"    // the request conflicts with the current state
	EINTERNAL   = "internal"    // a bug or an unexpected failure
	EINVALID    = "invalid"     // the input is well-formed but wrong; the message says how
	EBADREQUEST = "bad_request" // the request itself is malformed
	ENOTFOUND   = "not_found"   // the thing does not exist
	ELEASELOST  = "lease_lost"  // the attempt's lease is no longer held
	EUNAVAIL    = "unavailable" // a dependency (the database) is unreachable
	EFORBIDDEN  = "forbidden"   // the caller may not do this
	EUNAUTH     = "unauthorized"
	ETOOLARGE   = "too_large"
	EDATADIRUSE = "data_dir_in_use" // another process holds the SQLite data dir
	ERATELIMIT  = "too_many_requests"
)

// Error is the error type of the domain: a machine-readable code and a
// message written for the person who will read it.
type Error struct {
	Code    string
	Message string
	// Details carries structured extras, such as the positioned errors of a
	// pipeline file.
	Details any
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for other errors, which may carry internals.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrLeaseLost is returned by every write of an attempt whose lease was taken
// over (expired and requeued, handed back, or the run was cancelled). The
// writer must stop the attempt and write nothing more.
var ErrLeaseLost = &Error{Code: ELEASELOST, Message: "sluice: attempt lease lost"}
