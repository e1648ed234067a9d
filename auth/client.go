package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseProxies parses the --trusted-proxies list: IP addresses and CIDR
// prefixes (10.0.0.0/8, ::1). It names the entry that is neither.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies %q: want an IP address or a CIDR prefix such as 10.0.0.0/8", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// ClientAddr returns the address of the client that made r: the peer's
// address, or, when the peer is a trusted proxy, the address the proxies
// say they received the request from. The header they write
// (Config.ForwardedHeader) is read from the right, past the trusted
// proxies, so a client cannot pick its address by sending the header
// itself: only the entry the nearest untrusted hop was seen from counts.
func (a *Auth) ClientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if !a.trusted(peer) {
		return addrString(peer, r.RemoteAddr)
	}
	hops := a.forwardedFor(r.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			// A hop that is not an address: the proxies cannot tell
			// us more, so the last trusted one is the client we know.
			break
		}
		client = hop
		if !a.trusted(hop) {
			break
		}
	}
	return addrString(client, r.RemoteAddr)
}

// overTLS reports whether the client reached sluice over TLS: directly, or
// through a trusted proxy that says so, in X-Forwarded-Proto (the last
// value, the nearest proxy's) or, when the proxies write Forwarded, in the
// last proto= of Forwarded.
func (a *Auth) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !a.trusted(peerAddr(r)) {
		return false
	}
	last := ""
	if a.cfg.ForwardedHeader == HeaderForwarded {
		for _, pair := range forwardedPairs(r.Header) {
			if strings.EqualFold(pair[0], "proto") {
				last = pair[1]
			}
		}
	} else if v := r.Header.Values("X-Forwarded-Proto"); len(v) > 0 {
		protos := strings.Split(v[len(v)-1], ",")
		last = strings.TrimSpace(protos[len(protos)-1])
	}
	return strings.EqualFold(last, "https")
}

func (a *Auth) trusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func addrString(a netip.Addr, fallback string) string {
	if !a.IsValid() {
		return fallback
	}
	return a.String()
}

// The headers a proxy may write the client's address in.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// ParseForwardedHeader checks the --forwarded-header value: the header the
// trusted proxies write, X-Forwarded-For (the default) or Forwarded. Only
// that one is read: a proxy passes the other on as the client sent it.
func ParseForwardedHeader(s string) (string, error) {
	switch {
	case s == "", strings.EqualFold(s, HeaderXForwardedFor):
		return HeaderXForwardedFor, nil
	case strings.EqualFold(s, HeaderForwarded):
		return HeaderForwarded, nil
	}
	return "", fmt.Errorf("--forwarded-header %q: want X-Forwarded-For or Forwarded, the header your proxy writes", s)
}

// forwardedFor lists the hops of the header the proxies write
// (X-Forwarded-For, or the for= parameters of RFC 7239's Forwarded), from
// the first to the last. Several headers of the name count as one list in
// order.
func (a *Auth) forwardedFor(h http.Header) []string {
	var hops []string
	if a.cfg.ForwardedHeader != HeaderForwarded {
		for _, line := range h.Values(HeaderXForwardedFor) {
			for _, hop := range strings.Split(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, pair := range forwardedPairs(h) {
		if strings.EqualFold(pair[0], "for") {
			hops = append(hops, pair[1])
		}
	}
	return hops
}

// forwardedPairs lists the key=value pairs of the Forwarded headers, in
// order, values unquoted.
func forwardedPairs(h http.Header) [][2]string {
	var out [][2]string
	for _, line := range h.Values(HeaderForwarded) {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok {
					out = append(out, [2]string{strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)})
				}
			}
		}
	}
	return out
}

// parseHop reads one hop: an address, with or without a port, IPv6 in
// brackets or not.
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
