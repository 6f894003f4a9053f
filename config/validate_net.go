package config

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// listener is one listen address key and its value.
type listener struct {
	key, addr string
}

// validateListeners checks that each address is host:port and that no two
// listeners would bind the same port. Port 0 (any free port) never conflicts.
func validateListeners(p *problems, ls []listener) {
	type bound struct {
		key, host string
		port      uint64
	}
	var ok []bound
	for _, l := range ls {
		host, port, msg := splitAddr(l.addr)
		if msg != "" {
			p.add(l.key, "%s", msg)
			continue
		}
		for _, b := range ok {
			sameHost := strings.EqualFold(b.host, host) || isWildcardHost(b.host) || isWildcardHost(host)
			if port != 0 && port == b.port && sameHost {
				p.add(l.key, "%s is already used by %s", quote(l.addr), b.key)
				break
			}
		}
		ok = append(ok, bound{key: l.key, host: host, port: port})
	}
}

// validateAdminExposure refuses an admin listener that other hosts can
// reach (a wildcard, a non-loopback IP or a host name other than
// localhost) without admin_token_file: it mints tokens and revokes them.
func validateAdminExposure(p *problems, addr, tokenFile string) {
	host, _, msg := splitAddr(addr)
	if msg != "" || tokenFile != "" || isLoopbackHost(host) {
		return
	}
	p.add("admin_addr", "%s is reachable from other hosts, so admin_token_file must be set; or listen on a loopback address such as 127.0.0.1:9090", quote(addr))
}

// splitAddr parses a listen address, or says why it cannot.
func splitAddr(addr string) (host string, port uint64, problem string) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, "must be host:port, such as 127.0.0.1:8080, not " + quote(addr)
	}
	port, err = strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return "", 0, "port must be a number from 0 to 65535, not " + quote(portStr)
	}
	if host != "" && !isIPHost(host) && !isHostname(host) {
		return "", 0, quote(host) + " is not an IP address or host name"
	}
	return host, port, ""
}

func isIPHost(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// isHostname accepts DNS names made of letters, digits and hyphens.
func isHostname(host string) bool {
	if len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isWildcardHost reports whether a listen host means every interface.
func isWildcardHost(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// fetchURLProblem checks a URL jwt-authz fetches keys from: absolute, https,
// or http to a loopback host (a test IdP or a local sidecar) unless
// allowHTTP. Plain http to another host would let anyone on the path replace
// the keys and mint tokens. The URL itself is never repeated in the message.
func fetchURLProblem(raw string, allowHTTP bool) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "must be an absolute https URL"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if u.Scheme == "http" && !allowHTTP && !isLoopbackHost(u.Hostname()) {
		return "must be https: http is allowed only for loopback hosts unless allow_http is true"
	}
	return ""
}

// issuerURLProblem checks issuer.issuer, which becomes the "iss" claim and
// the base of the discovery document.
func issuerURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "must be an absolute http or https URL"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "must not contain credentials, a query or a fragment"
	}
	return ""
}

// redisURLProblem checks revocation.redis_url. The URL may hold a password,
// so it is never repeated in the message.
func redisURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return "must be a redis:// or rediss:// URL, such as redis://host:6379/0"
	}
	if u.Hostname() == "" {
		return "must name a host, such as redis://host:6379/0"
	}
	if port := u.Port(); port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "port must be a number from 1 to 65535"
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return "database must be a number, such as redis://host:6379/0"
		}
	}
	return ""
}

// headerNameProblem says why h is not a usable lowercase HTTP header name,
// or "". Envoy and HTTP/2 use lowercase names; requiring them here keeps a
// configured "X-Jwt-Sub" from silently matching nothing.
func headerNameProblem(h string) string {
	switch {
	case h == "":
		return "must be an HTTP header name"
	case h[0] == ':':
		return "pseudo-header " + quote(h) + " cannot be used"
	case !isToken(h):
		return quote(h) + " is not a valid HTTP header name"
	case strings.ToLower(h) != h:
		return "must be lower case (" + strings.ToLower(h) + ")"
	}
	return ""
}

// isToken reports whether s is an RFC 9110 token, the syntax of header and
// cookie names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
