package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/sluice-dev/sluice"
)

// The Host check defends against DNS rebinding: a page of another site
// whose name the attacker points at 127.0.0.1 is, to the browser, the same
// origin as the server, so the cross-origin check lets its requests
// through. Only the Host header still carries the attacker's name. So
// with --auth none (every request is an admin's) only loopback names are
// served, and --allowed-hosts narrows any mode to the names it lists.

// ParseHosts parses the --allowed-hosts list: host names (sluice.example.com),
// a leading dot for a domain and its subdomains (.example.com), IP
// addresses and CIDR prefixes, or * for any host. It names the entry that
// is none of these.
func ParseHosts(list []string) ([]string, error) {
	var out []string
	for _, s := range list {
		h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
		switch {
		case h == "" && strings.TrimSpace(s) == "":
			continue
		case h == "":
			return nil, fmt.Errorf("--allowed-hosts %q: give a host name, such as sluice.example.com", s)
		case h == "*":
		case isPrefix(h):
		case isAddr(strings.Trim(h, "[]")):
			h = strings.Trim(h, "[]")
		case !hostName.MatchString(h):
			return nil, fmt.Errorf("--allowed-hosts %q: give a host name without a scheme or port (sluice.example.com), "+
				"a domain with its subdomains (.example.com), an address or prefix (10.0.0.0/8), or *", s)
		}
		out = append(out, h)
	}
	return out, nil
}

var hostName = regexp.MustCompile(`^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$`)

// CheckHosts refuses an --allowed-hosts list that would serve any name
// with --auth none: every request there is an admin's, so any web page
// could act as one through a name it points at this machine.
func CheckHosts(mode Mode, hosts []string) error {
	if mode != ModeNone {
		return nil
	}
	for _, h := range hosts {
		if h == "*" {
			return sluice.Errorf(sluice.EINVALID, "--allowed-hosts '*' with --auth none would let any web page act as admin "+
				"through a DNS name it points at this machine: list the names to serve, or use --auth password")
		}
		if p, err := netip.ParsePrefix(h); err == nil && p.Bits() == 0 {
			return sluice.Errorf(sluice.EINVALID, "--allowed-hosts %s with --auth none takes every address: list the names or addresses to serve, or use --auth password", h)
		}
	}
	return nil
}

func isPrefix(s string) bool {
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// CheckHost refuses a request whose Host header names a host this server
// does not serve: with --auth none any but a loopback name or address, and
// with --allowed-hosts any the list does not name. The auth middleware
// calls it for the UI and the API; /metrics calls it too.
func (a *Auth) CheckHost(r *http.Request) error {
	host := requestHost(r)
	if isLoopbackHost(host) || hostListed(a.cfg.AllowedHosts, host) {
		return nil
	}
	if len(a.cfg.AllowedHosts) == 0 && a.cfg.Mode != ModeNone {
		return nil
	}
	if a.cfg.Mode == ModeNone && len(a.cfg.AllowedHosts) == 0 {
		return sluice.Errorf(sluice.EFORBIDDEN, "host %q refused: with --auth none, sluice serves only requests addressed to localhost, 127.0.0.1 or [::1], "+
			"so that another site cannot reach it through a DNS name it points at this machine; open sluice at http://127.0.0.1:PORT, "+
			"or list the name in --allowed-hosts", r.Host)
	}
	return sluice.Errorf(sluice.EFORBIDDEN, "host %q refused: it is not in --allowed-hosts; open sluice by a name the list gives, or add this one", r.Host)
}

// requestHost is the request's host name, lower-cased, without its port,
// brackets or a final dot.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// isLoopbackHost reports whether a host name can only mean this machine:
// localhost and its subdomains (RFC 6761), and loopback addresses. Another
// site cannot be reached by these names, so serving them is always safe.
func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// hostListed reports whether the --allowed-hosts list names h.
func hostListed(list []string, h string) bool {
	if h == "" {
		return false
	}
	addr, addrErr := netip.ParseAddr(h)
	for _, e := range list {
		switch {
		case e == "*", e == h:
			return true
		case strings.HasPrefix(e, "."):
			if h == e[1:] || strings.HasSuffix(h, e) {
				return true
			}
		case addrErr == nil && strings.Contains(e, "/"):
			if p, err := netip.ParsePrefix(e); err == nil && p.Contains(addr.Unmap()) {
				return true
			}
		case addrErr == nil:
			if a, err := netip.ParseAddr(e); err == nil && a.Unmap() == addr.Unmap() {
				return true
			}
		}
	}
	return false
}
