package extauthz

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// request is the transport-neutral view of the request being authorized.
type request struct {
	method string
	path   string // without query, normalized for rule matching
	query  string // raw query string
	host   string
	id     string // x-request-id, for logs

	grpcHeaders map[string]string // lower-case names (Envoy's form)
	httpHeaders http.Header
}

func (r *request) header(lower string) (string, bool) {
	if r.grpcHeaders != nil {
		v, ok := r.grpcHeaders[lower]
		return v, ok
	}
	if r.httpHeaders != nil {
		vs := r.httpHeaders.Values(lower)
		if len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	return "", false
}

// fromCheck reads a CheckRequest. Missing parts read as empty; a request
// without HTTP attributes has no token and is denied as missing.
func fromCheck(req *authv3.CheckRequest) request {
	h := req.GetAttributes().GetRequest().GetHttp()
	r := request{method: h.GetMethod(), host: h.GetHost(), grpcHeaders: h.GetHeaders()}
	if len(r.grpcHeaders) == 0 {
		// Envoy sends header_map instead of headers when configured with
		// encode_raw_headers.
		if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
			r.grpcHeaders = make(map[string]string, len(hm))
			for _, kv := range hm {
				k := strings.ToLower(kv.GetKey())
				v := kv.GetValue()
				if v == "" {
					v = string(kv.GetRawValue())
				}
				if _, dup := r.grpcHeaders[k]; !dup {
					r.grpcHeaders[k] = v
				}
			}
		}
	}
	if r.grpcHeaders == nil {
		r.grpcHeaders = map[string]string{}
	}
	r.path, r.query = splitTarget(h.GetPath())
	if r.query == "" {
		r.query = h.GetQuery()
	}
	if r.host == "" {
		r.host = r.grpcHeaders[":authority"]
	}
	r.id = r.grpcHeaders["x-request-id"]
	return r
}

// splitTarget splits a request target into a normalized path and its raw
// query. Normalization (dot segments, duplicate slashes, encoded dots and
// slashes, backslashes) keeps "/healthz/../admin" from matching a rule for
// "/healthz".
func splitTarget(target string) (string, string) {
	p, q, _ := strings.Cut(target, "?")
	if i := strings.IndexByte(p, '#'); i >= 0 {
		p = p[:i]
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if needsCleaning(p) {
		p = cleanPath(p)
	}
	return p, q
}

func needsCleaning(p string) bool {
	return strings.Contains(p, "/.") || strings.Contains(p, "//") || strings.IndexByte(p, '%') >= 0 || strings.IndexByte(p, '\\') >= 0
}

func cleanPath(p string) string {
	if dec, err := url.PathUnescape(p); err == nil {
		p = dec
	}
	p = strings.ReplaceAll(p, "\\", "/")
	trailing := strings.HasSuffix(p, "/")
	p = path.Clean(p)
	if trailing && p != "/" {
		p += "/"
	}
	return p
}

// extract returns the token of the first source present.
func extract(sources []Source, r *request) (string, bool) {
	for _, s := range sources {
		switch {
		case s.Header == "authorization":
			if v, ok := r.header("authorization"); ok {
				if tok, ok := bearer(v); ok {
					return tok, true
				}
			}
		case s.Header != "":
			if v, ok := r.header(s.Header); ok {
				if v = strings.TrimSpace(v); v != "" {
					return v, true
				}
			}
		case s.Cookie != "":
			if v, ok := r.header("cookie"); ok {
				if tok, ok := cookieValue(v, s.Cookie); ok {
					return tok, true
				}
			}
		case s.Query != "":
			if tok, ok := queryValue(r.query, s.Query); ok {
				return tok, true
			}
		}
	}
	return "", false
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
