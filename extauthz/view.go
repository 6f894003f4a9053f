package extauthz

import (
	"strconv"
	"strings"

	"github.com/jwt-authz/jwt-authz/internal/urlpath"
)

// PathNormalization says how the request view treats an ambiguous path.
type PathNormalization uint8

const (
	// PathReject answers an ambiguous path 400 (ambiguous_path) before any
	// rule.
	PathReject PathNormalization = iota
	// PathEnvoy resolves it as Envoy's normalize_path does, keeping %2F and
	// %5C encoded inside their segment.
	PathEnvoy
)

func (n PathNormalization) mode() urlpath.Mode {
	if n == PathEnvoy {
		return urlpath.Envoy
	}
	return urlpath.Reject
}

// view builds the canonical view of r that rules are matched against, the
// same for every transport: the method in upper case, the host in lower
// case without a trailing dot, the path normalized (see urlpath) and the
// query cut off. It reports false when the path is ambiguous under m; r's
// path is then empty and no rule may be matched.
//
// A fragment is cut off, as Envoy and nginx cut it. A fragment that holds
// a slash, a backslash or an escape is ambiguous in either mode: a next
// hop that receives the target raw and reads '#' as a character (a Go
// file server behind a proxy that forwards the request line unchanged)
// would resolve "/public#/../admin" to "/admin".
//
// A request already in canonical form is viewed without allocating.
func (r *request) view(m urlpath.Mode) bool {
	p, q := urlpath.Split(r.target)
	if q != "" {
		r.query = q
	}
	r.method = upperASCII(r.method)
	r.host = canonicalHost(r.host)
	if len(p) < len(r.target) && r.target[len(p)] == '#' && ambiguousFragment(r.target[len(p)+1:]) {
		r.path = ""
		return false
	}
	np, ok := urlpath.Normalize(p, m)
	r.path = np
	return ok
}

// ambiguousFragment reports a fragment (up to the query) that a reader of
// '#' as a character could turn into other path segments.
func ambiguousFragment(f string) bool {
	if i := strings.IndexByte(f, '?'); i >= 0 {
		f = f[:i]
	}
	return strings.ContainsAny(f, `/\%`)
}

// upperASCII upper-cases a method without allocating when it already is.
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

// canonicalHost lower-cases a host and removes the trailing dot of a fully
// qualified name, keeping a port: "API.Example.com.:8443" is
// "api.example.com:8443".
func canonicalHost(h string) string {
	h = lowerASCII(h)
	if strings.HasSuffix(h, ".") {
		return strings.TrimRight(h, ".")
	}
	if i := strings.LastIndexByte(h, ':'); i > 0 && h[i-1] == '.' {
		return strings.TrimRight(h[:i], ".") + h[i:]
	}
	return h
}

// maxLoggedPath bounds the raw path in a log record.
const maxLoggedPath = 256

// loggedPath renders a raw path for a log record: at most maxLoggedPath
// bytes, with control characters, quotes, backslashes and non-ASCII bytes
// escaped, so that a client's path can neither forge log lines nor hide
// what it was.
func loggedPath(p string) string {
	cut := len(p) > maxLoggedPath
	if cut {
		p = p[:maxLoggedPath]
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c >= 0x7f || c == '\\' || c == '"' {
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(c)>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(c)&15, 16))
			continue
		}
		b.WriteByte(c)
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}
