package extauthz

import (
	"net/http"
	"strings"
	"time"
)

// The forward-auth endpoints: one per way a proxy names the original
// request, each reading its own headers and never another family's, so
// that a client cannot add a header of the family its proxy does not set
// and be decided on it.
const (
	// ForwardAuthPrefix serves Envoy's http_service: the original path
	// follows the prefix, the method and Host are this request's own.
	ForwardAuthPrefix = "/authz"
	// ForwardXOriginalPath serves nginx auth_request: X-Original-Method,
	// X-Original-URI and X-Original-Host.
	ForwardXOriginalPath = "/forward/x-original"
	// ForwardXForwardedPath serves Traefik forwardAuth and Caddy
	// forward_auth: X-Forwarded-Method, X-Forwarded-Uri and
	// X-Forwarded-Host.
	ForwardXForwardedPath = "/forward/x-forwarded"
)

// headerFamily is the set of headers one forward-auth endpoint reads.
type headerFamily struct {
	method, uri, host string // canonical header names
	proto             string // the scheme, for a DPoP proof's htu
}

var (
	xOriginal  = headerFamily{"X-Original-Method", "X-Original-Uri", "X-Original-Host", "X-Original-Proto"}
	xForwarded = headerFamily{"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto"}
)

// IsForwardAuthTarget reports whether a raw request target (as received,
// not cleaned) is one of the forward-auth endpoints. They must be routed
// on it before a ServeMux, which would redirect a path with dot segments
// or doubled slashes to a cleaned one: the raw path is what they decide.
func IsForwardAuthTarget(target string) bool {
	p, _, _ := strings.Cut(target, "?")
	return p == ForwardAuthPrefix || strings.HasPrefix(p, ForwardAuthPrefix+"/") ||
		p == ForwardXOriginalPath || p == ForwardXForwardedPath
}

// ForwardAuthHandler serves every forward-auth endpoint (see
// IsForwardAuthTarget) with the same decision as Check. An allow is 200
// with the upstream headers set on the response; a denial carries the
// same status, headers and JSON body as the gRPC answer; a request that
// does not name the original request as its endpoint requires is 400
// invalid_request.
func (s *Server) ForwardAuthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		target := rawTarget(req)
		p, _, _ := strings.Cut(target, "?")
		var r request
		var problem string
		switch p {
		case ForwardXOriginalPath:
			r, problem = fromFamily(req, xOriginal)
		case ForwardXForwardedPath:
			r, problem = fromFamily(req, xForwarded)
		default:
			r, problem = fromHTTPService(req, target)
		}
		if problem != "" {
			writeInvalidRequest(w, problem)
			return
		}
		ctx, tr := req.Context(), traced{}
		if s.tracer != nil {
			ctx, tr = s.startSpan(ctx, &r, spanForwardAuth)
		}
		pol := s.policy.Load()
		r.headerCert(req.Header, pol.certHeader)
		sc := getScratch()
		o := s.decide(ctx, pol, &r, sc, start)
		s.writeHTTP(w, &o, sc)
		s.record(ctx, &r, &o, start, tr)
		putScratch(sc)
	})
}

// headerCert takes the client certificate from the configured header
// (name canonical; "" reads none). A header sent more than once leaves
// the request with a certificate that is never accepted: a client's own
// copy next to the proxy's would leave the choice to whoever reads it.
func (r *request) headerCert(h http.Header, name string) {
	if name == "" {
		return
	}
	switch vs := h[name]; len(vs) {
	case 0:
	case 1:
		r.cert, r.certFrom = vs[0], certHeader
	default:
		r.certFrom = certBad
	}
}

// rawTarget is the request target as the client sent it.
func rawTarget(req *http.Request) string {
	if strings.HasPrefix(req.RequestURI, "/") {
		return req.RequestURI
	}
	return req.URL.RequestURI() // absolute-form: re-encoded by net/url
}

// fromHTTPService reads an Envoy http_service request: the path after
// /authz, this request's method and Host.
func fromHTTPService(req *http.Request, target string) (request, string) {
	for _, f := range []struct {
		header   string
		endpoint string
	}{{"X-Original-Uri", ForwardXOriginalPath}, {"X-Forwarded-Uri", ForwardXForwardedPath}} {
		if _, ok := req.Header[f.header]; ok {
			name := displayName(f.header)
			return request{}, ForwardAuthPrefix + "/... reads the request from its own URL, not from " + name + "; a proxy that sends " + name + " uses " + f.endpoint
		}
	}
	target = strings.TrimPrefix(target, ForwardAuthPrefix)
	return request{method: req.Method, target: target, host: req.Host, httpHeaders: req.Header, id: req.Header.Get("X-Request-Id")}, ""
}

// fromFamily reads the original request from one header family. Method
// and URI are required, each once; without the host header the request has
// no host, and no host rule matches it.
func fromFamily(req *http.Request, f headerFamily) (request, string) {
	method, problem := onlyHeader(req.Header, f.method, true)
	if problem != "" {
		return request{}, problem
	}
	uri, problem := onlyHeader(req.Header, f.uri, true)
	if problem != "" {
		return request{}, problem
	}
	host, problem := onlyHeader(req.Header, f.host, false)
	if problem != "" {
		return request{}, problem
	}
	return request{method: method, target: uri, host: host, protoHeader: f.proto, httpHeaders: req.Header, id: req.Header.Get("X-Request-Id")}, ""
}

// onlyHeader returns the one value of a header. Two values are refused:
// a client's own copy next to the proxy's would leave the choice to
// whoever reads the header.
func onlyHeader(h http.Header, name string, required bool) (string, string) {
	vs := h[name]
	switch {
	case len(vs) > 1:
		return "", displayName(name) + " must be sent once"
	case len(vs) == 0 || vs[0] == "":
		if required {
			return "", displayName(name) + " header is required"
		}
		return "", ""
	}
	return vs[0], ""
}

// displayName spells a header as the documentation does.
func displayName(canonical string) string {
	if strings.HasSuffix(canonical, "-Uri") && strings.HasPrefix(canonical, "X-Original") {
		return "X-Original-URI"
	}
	return canonical
}

func writeInvalidRequest(w http.ResponseWriter, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(jsonBody("invalid_request", desc)))
}

func (s *Server) writeHTTP(w http.ResponseWriter, o *outcome, sc *scratch) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if o.reason == ReasonOK || o.dryRun {
		if o.verified {
			// The values point into sc, and the header map is written
			// after the handler returns: copy them.
			for _, u := range o.st.ok.upstream(sc.upstream[:0], &o.claims) {
				h.Set(canonicalHeader(u.name), strings.Clone(u.value))
			}
		}
		if o.freshNonce != "" {
			// For the proxy to copy to the client's answer (RFC 9449 §8.2).
			h.Set("Dpop-Nonce", o.freshNonce)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	d := httpDenial(o)
	for _, x := range d.headers {
		h.Set(canonicalHeader(x.name), x.value)
	}
	w.WriteHeader(d.status)
	_, _ = w.Write([]byte(d.body))
}
