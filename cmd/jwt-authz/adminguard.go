package main

import (
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
)

// adminGuard protects every endpoint of the admin listener. In order:
//
//  1. Browser checks. A request with an Origin header other than the
//     listener's own ("http://" + the Host it was sent to) or with
//     Sec-Fetch-Site cross-site or same-site is refused 403, token or not:
//     no page of another origin has business with the admin API, and the
//     server never answers a CORS preflight.
//  2. Without admin_token_file (the listener is then on loopback, which
//     config validation enforces) the Host header must name a loopback
//     address: localhost, 127.0.0.0/8 or [::1], with an optional port.
//     A page that rebinds its own DNS name to 127.0.0.1 sends its own name
//     as Host and is refused 403 (DNS rebinding).
//  3. With admin_token_file, every endpoint but GET /metrics needs
//     "Authorization: Bearer <token>", compared in constant time (401).
//     The Host is not checked then: the listener is reached by pod IP or
//     Service name.
//  4. POST, PUT, PATCH and DELETE need Content-Type: application/json
//     (415), which no HTML form and no CORS-safelisted fetch can send;
//     POST /admin/revocations/sessions takes application/x-ndjson, which
//     none can send either (text/plain could: it is refused).
//     POST /oauth2/introspect is exempt (RFC 7662 is form-encoded and
//     changes nothing).
//
// Every refusal is a JSON error body and happens before the endpoint runs,
// so a refused request changes nothing.
func (a *app) adminGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := foreignBrowserRequest(r); msg != "" {
			writeError(w, http.StatusForbidden, "access_denied", msg)
			return
		}
		actor := "admin_api"
		if want := a.adminToken.Load(); want == nil {
			if !isLoopbackHostHeader(r.Host) {
				writeError(w, http.StatusForbidden, "access_denied", "the Host header must name a loopback address (localhost, 127.0.0.0/8 or [::1]) when admin_token_file is not set")
				return
			}
		} else if !isMetrics(r) {
			if !validAdminToken(r, *want) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="jwt-authz-admin"`)
				writeError(w, http.StatusUnauthorized, "invalid_token", "admin token required")
				return
			}
			actor = "admin_token"
		}
		if changesState(r.Method) && r.URL.Path != "/oauth2/introspect" && !isJSON(r.Header.Get("Content-Type")) &&
			!(r.URL.Path == "/admin/revocations/sessions" && isMediaType(r.Header.Get("Content-Type"), adminapi.NDJSONContentType)) {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "state-changing admin requests need Content-Type: application/json")
			return
		}
		ctx := revocation.WithActor(r.Context(), revocation.Actor{Name: actor, RemoteAddr: r.RemoteAddr})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// foreignBrowserRequest says why r comes from a page of another origin, or
// returns "".
func foreignBrowserRequest(r *http.Request) string {
	switch strings.ToLower(r.Header.Get("Sec-Fetch-Site")) {
	case "", "same-origin", "none":
	default:
		return "cross-origin requests are refused (Sec-Fetch-Site)"
	}
	origins := r.Header.Values("Origin")
	switch {
	case len(origins) == 0:
		return ""
	case len(origins) == 1 && strings.EqualFold(origins[0], "http://"+r.Host):
		return ""
	}
	return "cross-origin requests are refused (Origin is not this listener)"
}

// isLoopbackHostHeader reports whether a Host header names a loopback
// address: localhost, an address in 127.0.0.0/8 or [::1], each with an
// optional port. Subdomains of localhost and trailing dots are refused.
func isLoopbackHostHeader(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Zone() == "" && addr.Unmap().IsLoopback()
}

func isMetrics(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == "/metrics"
}

func validAdminToken(r *http.Request, want []byte) bool {
	got, ok := bearerToken(r.Header.Get("Authorization"))
	return ok && subtle.ConstantTimeCompare([]byte(got), want) == 1
}

func changesState(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func isJSON(contentType string) bool { return isMediaType(contentType, "application/json") }

func isMediaType(contentType, want string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == want
}
