// Package api is the REST API of sluice: JSON under /api/v1, described by
// the OpenAPI 3.1 document it serves at /api/v1/openapi.json.
//
// Every route comes from one table (see Routes): its method and path
// pattern for the mux, the action it performs (auth.Allow checks it
// against auth's table of permissions, which the UI follows too, before
// every handler whose route names one), and what the OpenAPI document
// says of it. The document is generated from that table and from the wire
// types in types.go, which the Go client (package client) reuses.
//
// A request passes auth.Middleware first, which finds its principal (an
// API token, a session cookie, or nobody) and refuses a state-changing
// request of a session that lacks the session's CSRF token or comes from
// another origin. Bearer-token requests carry no cookie and need no CSRF
// token.
//
// Errors have one shape everywhere:
//
//	{"error": {"code": "not_found", "message": "run 42 not found", "details": …}}
//
// The code is the domain's (sluice.ENOTFOUND and the others), and this
// package is the only place that maps codes to HTTP statuses (see Status).
// An error that is not a *sluice.Error answers 500 "internal error"; the
// real error goes to the log, never to the client.
package api
