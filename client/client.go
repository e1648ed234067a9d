// Package client is the Go client of the sluice REST API. The sluice CLI
// talks to a server through it.
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("SLUICE_TOKEN"))
//	run, err := c.Trigger(ctx, "daily_orders", map[string]any{"region": "us"})
//
// Every method returns the API's wire types (package api). An error the
// server answers is a *sluice.Error with the server's code, message and
// details, so callers can show the message as it is and test the code with
// sluice.ErrorCode; a server that cannot be reached is EUNAVAIL.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/auth"
)

// Client calls one sluice server. Create it with New. A Client is safe for
// concurrent use, except Login and Logout, which change its session.
type Client struct {
	base      string
	token     string
	http      *http.Client
	userAgent string
	csrf      string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a client with a
// 30-second timeout. Following logs needs a client without a timeout;
// FollowLogs ignores it for that reason.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent header; default "sluice-client".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (such as
// http://127.0.0.1:8080) that authenticates with an API token; an empty
// token sends none (then use Login, or a server with --auth none).
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		base:      strings.TrimRight(baseURL, "/"),
		token:     token,
		http:      &http.Client{Timeout: 30 * time.Second},
		userAgent: "sluice-client",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL returns the server's URL.
func (c *Client) BaseURL() string { return c.base }

// request builds a request of path (under the base URL) with query.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, sluice.Errorf(sluice.EBADREQUEST, "server URL %q: %v", c.base, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else if c.csrf != "" && method != http.MethodGet {
		req.Header.Set(auth.CSRFHeader, c.csrf)
	}
	return req, nil
}

// send sends a request and turns a response that is not 2xx into an error.
// The caller closes the body of a response it gets.
func (c *Client) send(hc *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &sluice.Error{Code: sluice.EUNAVAIL, Message: fmt.Sprintf("cannot reach the sluice server at %s: %v", c.base, unwrapURLError(err))}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(resp)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeError reads the API's error body, or describes a response that
// has none (a proxy's error page, say).
func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body api.ErrorResponse
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "application/json" && json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		msg := body.Error.Message
		if id := resp.Header.Get(api.RequestIDHeader); id != "" && body.Error.Code == sluice.EINTERNAL {
			// The message says nothing; the server's log does, under this id.
			msg += " (request " + id + " in the server's log)"
		}
		return &sluice.Error{Code: body.Error.Code, Message: msg, Details: body.Error.Details}
	}
	code := sluice.EINTERNAL
	if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout {
		code = sluice.EUNAVAIL
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return &sluice.Error{Code: code, Message: fmt.Sprintf("the server answered %s, not the sluice API: is %s a sluice server? %s", resp.Status, resp.Request.URL.Host, text)}
}

// do sends a JSON request (in may be nil) and decodes the JSON response
// into out (which may be nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := c.request(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(c.http, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// Login starts a session with a user name and password, as a browser
// does: later requests carry its cookie and CSRF token. It is for clients
// without an API token.
func (c *Client) Login(ctx context.Context, user, password string) (*api.LoginResult, error) {
	if c.http.Jar == nil {
		jar, _ := cookiejar.New(nil)
		hc := *c.http
		hc.Jar = jar
		c.http = &hc
	}
	var out api.LoginResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/login", nil, api.LoginRequest{User: user, Password: password}, &out); err != nil {
		return nil, err
	}
	c.csrf = out.CSRFToken
	return &out, nil
}

// Logout ends the session Login started.
func (c *Client) Logout(ctx context.Context) error {
	err := c.do(ctx, http.MethodPost, "/api/v1/logout", nil, nil, nil)
	if err == nil {
		c.csrf = ""
	}
	return err
}

// Me returns who the server takes the client for.
func (c *Client) Me(ctx context.Context) (*api.Me, error) {
	return call[api.Me](ctx, c, http.MethodGet, "/api/v1/me", nil, nil)
}

// call sends a request and returns its decoded JSON answer.
func call[T any](ctx context.Context, c *Client, method, path string, query url.Values, in any) (*T, error) {
	var out T
	if err := c.do(ctx, method, path, query, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// list sends a GET and returns its JSON array answer, never nil.
func list[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	out := []T{}
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func esc(s string) string { return url.PathEscape(s) }
