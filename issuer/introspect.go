package issuer

import (
	"net/http"
)

// introspectionFields are copied from the claims of an active token into
// the RFC 7662 answer.
var introspectionFields = []string{"sub", "scope", "exp", "iat", "iss", "aud", "jti", "sid", "client_id"}

// IntrospectHandler serves POST /oauth2/introspect (RFC 7662): token=<jwt>
// answers {"active":true, "sub", "scope", "exp", "iat", "iss", "aud",
// "jti", "sid", "token_type":"Bearer"} (the claims the token has) when in
// accepts it, and {"active":false} otherwise, including when in is nil or
// cannot decide (fail closed). Only a missing token is an error (400
// invalid_request). Protecting the endpoint (admin token) is the caller's
// job.
func IntrospectHandler(in Introspector) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, f := readForm(w, r)
		if f != nil {
			f.write(w)
			return
		}
		raw := form.Get("token")
		if raw == "" {
			invalidRequest("missing token").write(w)
			return
		}
		if in == nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		claims, err := in.Introspect(r.Context(), raw)
		if err != nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		out := make(map[string]any, len(introspectionFields)+2)
		for _, name := range introspectionFields {
			if v, ok := claims[name]; ok && v != nil {
				out[name] = v
			}
		}
		if _, ok := out["scope"]; !ok {
			if s, ok := scopeOf(claims); ok && s != "" {
				out["scope"] = s
			}
		}
		out["active"] = true
		out["token_type"] = "Bearer"
		writeJSON(w, http.StatusOK, out)
	})
}
