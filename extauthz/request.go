package extauthz

import (
	"net/http"
	"net/url"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// request is the transport-neutral view of the request being authorized.
// A transport fills in method, target, query and host as received; view
// turns them into the canonical view rules are matched against.
type request struct {
	method string // as received; upper case after view
	target string // the request target as received: path, query, fragment
	path   string // set by view: the canonical path, without query
	query  string // raw query string: the target's, else the one given apart
	host   string // as received; lower case, without a trailing dot after view
	id     string // x-request-id, for logs

	// scheme is the original request's scheme as the transport names it
	// (Envoy's attributes.request.http.scheme), "" when it does not;
	// protoHeader is the header that names it otherwise (lower case). Only
	// a DPoP proof's htu reads them (see request.originalScheme).
	scheme      string
	protoHeader string

	// cert is the client certificate as the transport received it, read
	// as certFrom says (see request.certDER); only a certificate-bound
	// token reads it.
	cert     string
	certFrom certSource

	// headers are a Check request's headers with Envoy's lower-case names.
	// Of repeated names the last counts (the headers map), or the first
	// when firstWins (header_map, whose names are lower-cased here).
	headers     []field
	headerMap   []field // header_map entries while decoding
	firstWins   bool
	httpHeaders http.Header
}

// field is one name and value of a request's headers.
type field struct{ name, value string }

func (r *request) header(lower string) (string, bool) {
	if r.httpHeaders != nil {
		vs := r.httpHeaders.Values(lower)
		if len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	if r.firstWins {
		for i := range r.headers {
			if r.headers[i].name == lower {
				return r.headers[i].value, true
			}
		}
		return "", false
	}
	for i := len(r.headers) - 1; i >= 0; i-- {
		if r.headers[i].name == lower {
			return r.headers[i].value, true
		}
	}
	return "", false
}

// fromCheck reads a CheckRequest message. Missing parts read as empty; a
// request without HTTP attributes has no token and is denied as missing.
func fromCheck(req *authv3.CheckRequest) request {
	h := req.GetAttributes().GetRequest().GetHttp()
	r := request{method: h.GetMethod(), host: h.GetHost(), target: h.GetPath(), query: h.GetQuery(), scheme: h.GetScheme()}
	r.setPeerCert(req.GetAttributes().GetSource().GetCertificate())
	for k, v := range h.GetHeaders() {
		r.headers = append(r.headers, field{k, v})
	}
	for _, kv := range h.GetHeaderMap().GetHeaders() {
		r.addHeaderMapEntry(kv.GetKey(), kv.GetValue(), kv.GetRawValue())
	}
	r.finish()
	return r
}

// setPeerCert records the URL-encoded PEM of the downstream connection's
// client certificate (Envoy's attributes.source.certificate).
func (r *request) setPeerCert(pem string) {
	if pem != "" {
		r.cert, r.certFrom = pem, certPEM
	}
}

// addHeaderMapEntry records one header_map entry (Envoy's form with
// encode_raw_headers); finish decides whether it counts.
func (r *request) addHeaderMapEntry(key, value string, raw []byte) {
	if value == "" && len(raw) > 0 {
		value = string(raw)
	}
	r.headerMap = append(r.headerMap, field{name: key, value: value})
}

// finish completes a decoded request: header_map entries count only when
// the headers map is empty (Envoy sends one or the other), and the host
// and request id are filled in. The view is built later, under the policy
// in force (see view).
func (r *request) finish() {
	if len(r.headers) == 0 && len(r.headerMap) > 0 {
		for i := range r.headerMap {
			r.headerMap[i].name = lowerASCII(r.headerMap[i].name)
		}
		r.headers, r.headerMap, r.firstWins = r.headerMap, r.headers, true
	}
	if r.host == "" {
		r.host, _ = r.header(":authority")
	}
	r.id, _ = r.header("x-request-id")
}

// lowerASCII lower-cases a header name, without allocating when it
// already is.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// extract returns the token of the first source present, and whether it
// came with the DPoP scheme (RFC 9449 §7.1) in the authorization header.
func extract(sources []Source, r *request) (tok string, dpopScheme, found bool) {
	for _, s := range sources {
		switch {
		case s.Header == "authorization":
			if v, ok := r.header("authorization"); ok {
				if tok, ok := bearer(v); ok {
					return tok, false, true
				}
				if tok, ok := dpopAuthorization(v); ok {
					return tok, true, true
				}
			}
		case s.Header != "":
			if v, ok := r.header(s.Header); ok {
				if v = strings.TrimSpace(v); v != "" {
					return v, false, true
				}
			}
		case s.Cookie != "":
			if v, ok := r.header("cookie"); ok {
				if tok, ok := cookieValue(v, s.Cookie); ok {
					return tok, false, true
				}
			}
		case s.Query != "":
			if tok, ok := queryValue(r.query, s.Query); ok {
				return tok, false, true
			}
		}
	}
	return "", false, false
}

// bearer reads "Bearer <token>" with a case-insensitive scheme (RFC 6750
// §2.1). Another scheme means no bearer token is present.
func bearer(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(v[len(scheme):])
	return tok, tok != ""
}

func cookieValue(header, name string) (string, bool) {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name && v != "" {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

func queryValue(query, name string) (string, bool) {
	for query != "" {
		var part string
		part, query, _ = strings.Cut(query, "&")
		k, v, ok := strings.Cut(part, "=")
		if !ok || k != name || v == "" {
			continue
		}
		if dec, err := url.QueryUnescape(v); err == nil {
			v = dec
		}
		return v, true
	}
	return "", false
}
