package extauthz

import (
	"net/http"
	"strings"
	"time"
)

// ForwardAuthPrefix is where the HTTP forward-auth handler is mounted.
const ForwardAuthPrefix = "/authz"

// ForwardAuthHandler makes the same decision as Check over plain HTTP:
// for Envoy's http_service the request path after /authz is the original
// path; nginx auth_request and Traefik forwardAuth name the original
// request in X-Original-URI / X-Forwarded-Uri and X-Original-Method /
// X-Forwarded-Method. An allow is 200 with the upstream headers set on the
// response; a denial carries the same status, headers and JSON body as the
// gRPC answer.
func (s *Server) ForwardAuthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		pol := s.policy.Load()
		r := fromHTTP(req)
		sc := getScratch()
		o := s.decide(req.Context(), pol, &r, sc, start)
		s.writeHTTP(w, &o, sc)
		s.record(req.Context(), &r, &o, start)
		putScratch(sc)
	})
}

func fromHTTP(req *http.Request) request {
	target := firstHeader(req.Header, "X-Original-Uri", "X-Forwarded-Uri")
	if target == "" {
		target = strings.TrimPrefix(req.URL.EscapedPath(), ForwardAuthPrefix)
		if req.URL.RawQuery != "" {
			target += "?" + req.URL.RawQuery
		}
	}
	method := firstHeader(req.Header, "X-Original-Method", "X-Forwarded-Method")
	if method == "" {
		method = req.Method
	}
	host := firstHeader(req.Header, "X-Forwarded-Host")
	if host == "" {
		host = req.Host
	}
	return request{method: method, host: host, target: target, httpHeaders: req.Header, id: req.Header.Get("X-Request-Id")}
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
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
		w.WriteHeader(http.StatusOK)
		return
	}
	var scopes []string
	if o.reason.kind() == kindForbidden {
		scopes = o.rule.RequireScopes
	}
	d := denialFor(o.reason, scopes)
	for _, x := range d.headers {
		h.Set(canonicalHeader(x.name), x.value)
	}
	w.WriteHeader(d.status)
	_, _ = w.Write([]byte(d.body))
}
