package dpop

import (
	"strings"

	"github.com/jwt-authz/jwt-authz/internal/urlpath"
)

// CanonicalURI is the form a proof's htu is compared in (RFC 9449 §4.3,
// with the syntax- and scheme-based normalization of RFC 3986 §6.2.2 and
// §6.2.3): scheme and host in lower case, the host without a trailing dot
// and without the scheme's default port, then the path, "/" when empty.
// path is expected in the canonical form of the request view (see
// urlpath.Normalize); it has no query or fragment. An empty scheme is
// https.
func CanonicalURI(scheme, host, path string) string {
	scheme = strings.ToLower(scheme)
	if scheme == "" {
		scheme = "https"
	}
	if path == "" {
		path = "/"
	}
	return scheme + "://" + canonicalAuthority(scheme, host) + path
}

// canonicalAuthority lower-cases host, removes a trailing dot from its
// name and drops the default port of scheme.
func canonicalAuthority(scheme, host string) string {
	host = strings.ToLower(host)
	name, port := urlpath.SplitHostPort(host)
	name = strings.TrimRight(name, ".")
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return name
	}
	return name + ":" + port
}

// canonicalHTU reads a proof's htu, an absolute http or https URI, into
// CanonicalURI's form: its query and fragment are dropped and its path is
// normalized as a request path is (dot segments resolved, unreserved
// escapes decoded). It reports false for anything else: another scheme,
// no host, user information, a path no request view could have.
func canonicalHTU(htu string) (string, bool) {
	scheme, rest, ok := strings.Cut(htu, "://")
	if !ok {
		return "", false
	}
	scheme = strings.ToLower(scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host := rest[:end]
	if host == "" || strings.ContainsAny(host, "@ \t\\%") || hasControl(host) {
		return "", false
	}
	// rest[end:] starts with '/', '?' or '#', or is empty: a URI without
	// a path, such as "https://host?x", has the path "/".
	path, _ := urlpath.Split(rest[end:])
	if path == "" {
		path = "/"
	}
	np, ok := urlpath.Normalize(path, urlpath.Envoy)
	if !ok {
		return "", false
	}
	auth := canonicalAuthority(scheme, host)
	if name, _ := urlpath.SplitHostPort(auth); name == "" {
		return "", false // "https://./" or "https://:443/"
	}
	return scheme + "://" + auth + np, true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
