package extauthz

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
)

// The invariant of the request view: a request allowed without a token is
// one whose path, as any next hop reads it, is under an allow_anonymous
// rule too. The next hops are modelled here independently of the
// normalizer, as plain reference implementations:
//
//   - Envoy with normalize_path and merge_slashes and its default
//     path_with_escaped_slashes_action KEEP_UNCHANGED (Chromium's
//     canonicalizer: a raw backslash is a slash, %2E is a dot);
//   - Envoy with UNESCAPE_AND_FORWARD (%2F and %5C decoded first);
//   - RFC 3986 resolution of the path as sent (§5.2.4, nothing decoded);
//   - a server that reads a backslash, raw or encoded, as a slash;
//   - an upstream that percent-decodes the path once more and resolves
//     what it gets.
//
// Each serves a list of decoded segments; invariantPath renders it in the
// form rules are written in, so that the policy's own matcher says which
// rule covers it. The rules below use unreserved characters only, whose
// form every reading agrees on.

// invariantRules: anonymous prefixes, a prefix ending in "/", an exact
// path, a method-bound rule needing a token above an anonymous one for
// the same prefix, and an anonymous host.
var invariantRules = []Rule{
	{PathPrefix: "/api", Methods: []string{"DELETE", "PUT"}, RequireScopes: []string{"admin"}},
	{PathPrefix: "/api", AllowAnonymous: true},
	{PathPrefix: "/public", AllowAnonymous: true},
	{PathPrefix: "/static/", AllowAnonymous: true},
	{Path: "/health", AllowAnonymous: true},
	{PathPrefix: "/a-b.c_d~e", AllowAnonymous: true},
	{Host: "open.example.com", AllowAnonymous: true},
}

// nextHopSegments returns the segments each next hop serves for the
// path p (query cut off), skipping the readings under which the hop
// refuses p.
func nextHopSegments(p string, envoyOnly bool) [][]string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	var out [][]string
	add := func(segs []string, ok bool) {
		if ok {
			out = append(out, segs)
		}
	}
	// Envoy, KEEP_UNCHANGED.
	add(decodeEach(removeDots(envoyDots(strings.ReplaceAll(p, `\`, "/")))))
	if envoyOnly {
		return out
	}
	// Envoy, UNESCAPE_AND_FORWARD.
	u := replaceFold(replaceFold(p, "%2F", "/"), "%5C", `\`)
	add(decodeEach(removeDots(envoyDots(strings.ReplaceAll(u, `\`, "/")))))
	// RFC 3986 on the path as sent.
	add(decodeEach(removeDots(p)))
	// Backslash, raw or encoded, as a slash.
	add(decodeEach(removeDots(replaceFold(strings.ReplaceAll(p, `\`, "/"), "%5C", "/"))))
	// Decoded once more, then resolved; the segments are what they are.
	if d, err := url.PathUnescape(p); err == nil {
		out = append(out, removeDots(d))
	}
	return out
}

// envoyDots decodes %2E, as Chromium's canonicalizer does before it
// resolves dot segments.
func envoyDots(p string) string { return replaceFold(p, "%2E", ".") }

// replaceFold replaces every case-insensitive occurrence of old (an
// escape, upper case) by new.
func replaceFold(s, old, repl string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, old, repl), strings.ToLower(old), repl)
}

// removeDots is RFC 3986 §5.2.4 on a path starting with "/", returning its
// segments.
func removeDots(p string) []string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		if s == "." || s == ".." {
			if s == ".." && len(out) > 0 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// decodeEach percent-decodes each segment, as a server does once it has
// split the path; a malformed escape makes the server refuse the request.
func decodeEach(segs []string) ([]string, bool) {
	out := make([]string, len(segs))
	for i, s := range segs {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		out[i] = d
	}
	return out, true
}

// invariantPath renders served segments in rule form: empty segments
// merged, a trailing slash kept, every byte but the unreserved ones
// percent-encoded.
func invariantPath(segs []string) string {
	var b strings.Builder
	n := 0
	for _, s := range segs {
		if s == "" {
			continue
		}
		b.WriteByte('/')
		for i := 0; i < len(s); i++ {
			if c := s[i]; unreservedByte(c) {
				b.WriteByte(c)
			} else {
				b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
			}
		}
		n++
	}
	if n == 0 || segs[len(segs)-1] == "" {
		b.WriteByte('/')
	}
	return b.String()
}

func unreservedByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// invariantHost is the host a next hop routes on: lower case, no port, no
// trailing dot.
func invariantHost(h string) string {
	h = strings.ToLower(h)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasPrefix(h, "[") {
		h = h[:i]
	}
	return strings.TrimRight(h, ".")
}

var invariantEnvs sync.Map // PathNormalization -> *env

func invariantEnv(t *testing.T, n PathNormalization) *env {
	if e, ok := invariantEnvs.Load(n); ok {
		return e.(*env)
	}
	e := newEnv(t, func(o *PolicyOptions) {
		o.Rules = invariantRules
		o.PathNormalization = n
		o.BypassCORSPreflight = false
	})
	invariantEnvs.Store(n, e)
	return e
}

// checkInvariant decides a request without a token under both modes and,
// when it is allowed, checks every next hop's reading of it.
func checkInvariant(t *testing.T, method, target, host string) {
	t.Helper()
	for _, n := range []PathNormalization{PathReject, PathEnvoy} {
		e := invariantEnv(t, n)
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: target, Host: host},
		}}}
		resp, err := e.srv.Check(t.Context(), req)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if resp.GetStatus().GetCode() != int32(code.Code_OK) {
			continue
		}
		// The path as the next hops see it: up to the query or the
		// fragment, which Envoy, nginx and RFC 3986 all cut off. A
		// fragment that a reader of '#' as a character could turn into
		// other segments is refused (see view).
		p := target
		if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		pol := e.srv.Policy()
		for _, segs := range nextHopSegments(p, n == PathEnvoy) {
			served := invariantPath(segs)
			if !pol.match(strings.ToUpper(method), served, invariantHost(host)).AllowAnonymous {
				t.Fatalf("mode %d: %s %q (host %q) allowed without a token, but a next hop serves %q", n, method, target, host, served)
			}
		}
	}
}

// invariantParts are the pieces random paths are made of: the characters
// and escapes that have mattered to path confusion somewhere.
var invariantParts = []string{
	"/", "/", "/", "public", "admin", "api", "static", "health", "a-b.c_d~e", "x",
	".", "..", "...", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", `\`, "%25", "%252F", "%252e",
	"%00", "%0a", "%", "%7E", "%70", "%75", "%41", ";", "?", "#", "//", "é", "%c3%a9", " ", "\x01",
	"%3B", "%3F", "%23", "~", "-",
}

var invariantMethods = []string{"GET", "get", "DELETE", "delete", "Delete", "PUT", "put", "POST", "OPTIONS"}

var invariantHosts = []string{
	"api.example.com", "open.example.com", "OPEN.Example.com.", "open.example.com:8443",
	"open.example.com.:80", "", "evil.example.com", "open.example.com.evil", "[::1]:80",
}

// TestRequestViewInvariant is the property test: many random requests
// (from a fixed seed, so a failure repeats), each checked against every
// next hop's reading.
func TestRequestViewInvariant(t *testing.T) {
	rnd := rand.New(rand.NewPCG(14, 2026))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	allowed := 0
	for range n {
		var b strings.Builder
		if rnd.IntN(8) != 0 {
			b.WriteByte('/')
		}
		for range 1 + rnd.IntN(8) {
			b.WriteString(invariantParts[rnd.IntN(len(invariantParts))])
		}
		method := invariantMethods[rnd.IntN(len(invariantMethods))]
		host := invariantHosts[rnd.IntN(len(invariantHosts))]
		checkInvariant(t, method, b.String(), host)
		if r := (request{method: method, target: b.String(), host: host}); r.view(0) &&
			invariantEnv(t, PathReject).srv.Policy().match(r.method, r.path, r.host).AllowAnonymous {
			allowed++
		}
	}
	// The property says nothing unless some requests are allowed.
	if allowed < n/20 {
		t.Fatalf("only %d of %d random requests allowed anonymously", allowed, n)
	}
}

// FuzzRequestView checks the same invariant on fuzzed requests.
func FuzzRequestView(f *testing.F) {
	// The walks around rules that the request view closes.
	f.Add("GET", "/admin/..%2Fpublic", "api.example.com")
	f.Add("GET", "/admin%2F..%2Fpublic", "api.example.com")
	f.Add("GET", `/admin\..\public`, "api.example.com")
	f.Add("GET", "/publicity", "api.example.com")
	f.Add("delete", "/api/x", "api.example.com")
	f.Add("GET", "/admin", "OPEN.example.com.:8443")
	f.Add("GET", "/public/%252E%252E/admin", "api.example.com")
	f.Add("GET", "/public/..;/admin", "api.example.com")
	f.Add("GET", "/public#/../admin", "api.example.com")
	f.Add("put", "/api/../public", "open.example.com.:443")
	f.Fuzz(func(t *testing.T, method, target, host string) {
		checkInvariant(t, method, target, host)
	})
}
