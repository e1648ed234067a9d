package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/kube/k8sapi"
)

// sluice talks to the API server with this small REST client on net/http
// and encoding/json, not client-go: Go runs the init functions of every
// package a binary links, and client-go's, with k8s.io/api's and
// apimachinery's, touched some 23 MB of the binary in every sluice
// process, one that never runs a Pod included (issue 15: an idle server
// went from 31 to 56 MB RSS). sluice needs a dozen kinds of request.

// rest sends requests to one API server.
type rest struct {
	host      string
	client    *http.Client
	transport *http.Transport
	conns     *conns
	auth      *credentials
	userAgent string
}

func newREST(c *connection, wrap func(http.RoundTripper) http.RoundTripper) *rest {
	open := &conns{dialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, all: map[net.Conn]bool{}}
	t := &http.Transport{
		Proxy:                 c.proxy,
		DialContext:           open.dial,
		TLSClientConfig:       c.tls,
		TLSHandshakeTimeout:   10 * time.Second,
		ForceAttemptHTTP2:     true, // as client-go: watches and log streams share connections
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// As client-go: a connection that stops answering (a watch on it
		// would wait forever) is found by pings and closed.
		HTTP2: &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
	var rt http.RoundTripper = t
	if wrap != nil {
		rt = wrap(rt)
	}
	client := &http.Client{Transport: rt, CheckRedirect: sameOrigin}
	return &rest{host: c.host, client: client, transport: t, conns: open, auth: c.auth, userAgent: "sluice-worker"}
}

// conns are the connections a rest dialed and has not closed, so that
// Client.Close can close them: CloseIdleConnections alone missed an
// HTTP/2 connection whose last stream (a watch just cancelled) was still
// being cleaned up, which stayed 90 s.
type conns struct {
	dialer *net.Dialer
	mu     sync.Mutex
	all    map[net.Conn]bool
}

func (cs *conns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := cs.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, of: cs}
	cs.mu.Lock()
	cs.all[tc] = true
	cs.mu.Unlock()
	return tc, nil
}

// closeAll closes every connection open.
func (cs *conns) closeAll() {
	cs.mu.Lock()
	all := cs.all
	cs.all = map[net.Conn]bool{}
	cs.mu.Unlock()
	for c := range all {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	of *conns
}

func (c *trackedConn) Close() error {
	c.of.mu.Lock()
	delete(c.of.all, c)
	c.of.mu.Unlock()
	return c.Conn.Close()
}

// sameOrigin follows a redirect only to the API server's own scheme,
// host and port. net/http keeps the Authorization header on a redirect
// to the same host name whatever its scheme and port (and the client
// certificate goes to any host), so a redirect to http:// would send the
// bearer token in clear.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	from := via[0].URL
	if req.URL.Scheme != from.Scheme || req.URL.Host != from.Host {
		return fmt.Errorf("the API server redirected to %s://%s, which is not followed (it would get sluice's credentials)", req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// StatusError is an error the API server answered with a Status.
type StatusError struct {
	Status k8sapi.Status
}

func (e *StatusError) Error() string { return e.Status.Message }

// The Status reasons sluice tells apart (metav1.StatusReason*).
const (
	reasonNotFound         = "NotFound"
	reasonAlreadyExists    = "AlreadyExists"
	reasonForbidden        = "Forbidden"
	reasonUnauthorized     = "Unauthorized"
	reasonBadRequest       = "BadRequest"
	reasonInvalid          = "Invalid"
	reasonMethodNotAllowed = "MethodNotAllowed"
	reasonGone             = "Gone"
	reasonExpired          = "Expired"
)

// knownReasons are the reasons apimachinery knows: an error with one of
// them is told by it, not by its code.
var knownReasons = map[string]bool{
	"Unauthorized": true, "Forbidden": true, "NotFound": true, "AlreadyExists": true, "Conflict": true, "Gone": true,
	"Invalid": true, "ServerTimeout": true, "StoreReadError": true, "Timeout": true, "TooManyRequests": true,
	"BadRequest": true, "MethodNotAllowed": true, "NotAcceptable": true, "RequestEntityTooLarge": true,
	"UnsupportedMediaType": true, "InternalError": true, "Expired": true, "ServiceUnavailable": true,
}

// isReason reports, as apimachinery's errors.IsNotFound and the like do,
// whether err is a Status of that reason, or of its code when the reason
// is none apimachinery knows.
func isReason(err error, reason string, code int32) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	if se.Status.Reason == reason {
		return true
	}
	return !knownReasons[se.Status.Reason] && se.Status.Code == code
}

func isNotFound(err error) bool      { return isReason(err, reasonNotFound, http.StatusNotFound) }
func isAlreadyExists(err error) bool { return isReason(err, reasonAlreadyExists, http.StatusConflict) }
func isForbidden(err error) bool     { return isReason(err, reasonForbidden, http.StatusForbidden) }

// isGone reports a watch or list whose resourceVersion is too old.
func isGone(err error) bool {
	return isReason(err, reasonGone, http.StatusGone) || isReason(err, reasonExpired, http.StatusGone)
}

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return isNotFound(err) }

// IsAlreadyExists reports whether err says the object exists already.
func IsAlreadyExists(err error) bool { return isAlreadyExists(err) }

// statusError makes the error of an answer that is not a success: the
// Status it holds, else one made from its code, as client-go does.
func statusError(resp *http.Response, body []byte) error {
	var st k8sapi.Status
	if isProtobuf(resp) && k8sapi.DecodeStatus(body, &st) == nil || json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
		if st.Code == 0 {
			st.Code = int32(resp.StatusCode)
		}
		return &StatusError{Status: st}
	}
	st = k8sapi.Status{Code: int32(resp.StatusCode)}
	// As client-go: at most 2 KiB of a body that is not a Status (a
	// proxy's error page, say) goes into the error.
	if len(body) > 2048 {
		body = body[:2048]
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		st.Reason, st.Message = reasonNotFound, "the server could not find the requested resource"
	case http.StatusConflict:
		st.Reason, st.Message = "Conflict", "the server reported a conflict"
	case http.StatusUnauthorized:
		st.Reason, st.Message = reasonUnauthorized, "the server has asked for the client to provide credentials"
	case http.StatusForbidden:
		st.Reason, st.Message = reasonForbidden, "the server does not allow access to the requested resource"
	case http.StatusGone:
		st.Reason, st.Message = reasonGone, "the server has no record of the requested resource"
	case http.StatusBadRequest:
		st.Reason, st.Message = reasonBadRequest, "the server rejected our request for an unknown reason"
	case http.StatusMethodNotAllowed:
		st.Reason, st.Message = reasonMethodNotAllowed, "the server does not allow this method on the requested resource"
	case http.StatusUnprocessableEntity:
		st.Reason, st.Message = reasonInvalid, "the server rejected our request due to an error in our request"
	case http.StatusTooManyRequests:
		st.Reason, st.Message = "TooManyRequests", "the server has received too many requests and has asked us to try again later"
	default:
		st.Reason = "InternalError"
		st.Message = fmt.Sprintf("an error on the server (%q) has prevented the request from succeeding", strings.TrimSpace(string(body)))
	}
	if s := strings.TrimSpace(string(body)); s != "" && len(s) < 1024 && resp.StatusCode < 500 {
		st.Message += " (" + s + ")"
	}
	return &StatusError{Status: st}
}

// checkSegment checks a namespace or name as client-go's request builder
// does, before it is put in a path.
func checkSegment(what, s string) error {
	var msgs []string
	if s == "." || s == ".." {
		msgs = append(msgs, fmt.Sprintf("may not be '%s'", s))
	}
	for _, bad := range []string{"/", "%"} {
		if strings.Contains(s, bad) {
			msgs = append(msgs, fmt.Sprintf("may not contain '%s'", bad))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("invalid %s %q: %v", what, s, msgs)
	}
	return nil
}

// path is the API path of a resource: /api/v1[/namespaces/NS]/RESOURCE[/NAME][/SUB].
func resourcePath(ns, resource, name, sub string) (string, error) {
	p := "/api/v1"
	if ns != "" {
		if err := checkSegment("namespace", ns); err != nil {
			return "", err
		}
		p += "/namespaces/" + ns
	}
	p += "/" + resource
	if name != "" {
		if err := checkSegment("resource name", name); err != nil {
			return "", err
		}
		p += "/" + name
	}
	if sub != "" {
		p += "/" + sub
	}
	return p, nil
}

// send sends one request and returns the answer when it is a success; a
// stream's body is the caller's to close. A 429 or 5xx answer with
// Retry-After is tried again (up to 10 times, as client-go), and one 401
// after an exec plugin's credential expired early. A request that could
// not reach the API server (unreachable) is tried again for up to
// unreachableFor.
func (r *rest) send(ctx context.Context, method, path string, query url.Values, body any, accept string) (*http.Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	u := r.host + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	refreshed := false
	start, pause := time.Now(), 250*time.Millisecond
	for tries := 0; ; tries++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		if payload == nil {
			req.Body, req.ContentLength = nil, 0
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", r.userAgent)
		if r.auth != nil {
			if err := r.auth.apply(req); err != nil {
				return nil, err
			}
		}
		resp, err := r.client.Do(req)
		if err != nil {
			if !unreachable(err) || time.Since(start) > unreachableFor || ctx.Err() != nil {
				return nil, err
			}
			select {
			case <-time.After(pause):
				pause = min(2*pause, 2*time.Second)
				continue
			case <-ctx.Done():
				return nil, err
			}
		}
		if resp.StatusCode < 300 {
			return resp, nil
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && !refreshed && r.auth != nil && r.auth.unauthorized() {
			refreshed = true
			r.transport.CloseIdleConnections()
			continue
		}
		if wait, ok := retryAfter(resp); ok && tries < 10 {
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, statusError(resp, b)
	}
}

// unreachableFor is how long send tries again a request the API server
// could not be reached for: about as long as it takes to restart.
var unreachableFor = 30 * time.Second

// unreachable reports whether err is one of a connection refused, reset
// or closed before an answer: the API server restarting, or a load
// balancer in front of it without a backend. client-go tried again only
// GETs so (a POST may have been done); every request sluice sends may be
// sent again: a Pod or Secret created by the first is found as
// AlreadyExists and adopted as the attempt's own (Run), a delete of one
// gone is NotFound, which is no error, and a SelfSubjectAccessReview
// changes nothing. A certificate that is not trusted, or a context that
// ended, is not tried again.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false // a name that does not exist, as a typo in the kubeconfig
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return 0, false
	}
	s := resp.Header.Get("Retry-After")
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return min(time.Duration(n)*time.Second, 10*time.Second), true
}

// The Accept headers of requests: Pods come as protobuf (see
// k8sapi.ProtobufType for why), the rest as JSON.
const (
	acceptJSON     = "application/json"
	acceptProtobuf = k8sapi.ProtobufType + ", application/json"
)

func isProtobuf(resp *http.Response) bool {
	return strings.HasPrefix(resp.Header.Get("Content-Type"), k8sapi.ProtobufType)
}

// do sends a request and decodes the answer into out (when not nil): a
// *k8sapi.Pod or *k8sapi.PodList is asked for as protobuf.
func (r *rest) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	accept := acceptJSON
	switch out.(type) {
	case *k8sapi.Pod, *k8sapi.PodList:
		accept = acceptProtobuf
	}
	resp, err := r.send(ctx, method, path, query, body, accept)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if isProtobuf(resp) {
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			switch out := out.(type) {
			case *k8sapi.Pod:
				err = k8sapi.DecodePod(b, out)
			case *k8sapi.PodList:
				err = k8sapi.DecodePodList(b, out)
			default:
				err = fmt.Errorf("an answer in protobuf, not asked for")
			}
		}
		if err != nil {
			return fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
	}
	return nil
}
