package issuer

import (
	"net/http"
	"strings"
)

// TokenHandler serves the token endpoint: POST /oauth2/token with
// grant_type=refresh_token or the RFC 8693 token exchange grant, and POST
// /token/refresh (any path ending in /token/refresh), where the form needs
// only refresh_token=. ex validates subject tokens for token exchange; when
// it is nil or Options.ExchangeProviders is empty, the exchange grant is
// unsupported.
//
// Clients are public (token_endpoint_auth_method "none"): a request that
// tries to authenticate the client with HTTP Basic or client_secret /
// client_assertion parameters is refused with invalid_client (401), so a
// misconfigured confidential client learns its credentials are not checked.
func (i *Issuer) TokenHandler(ex ExchangeValidator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refreshOnly := strings.HasSuffix(r.URL.Path, PathRefresh)
		form, f := readForm(w, r)
		if f != nil {
			i.metrics.request(grantOf(form, refreshOnly), f.result)
			f.write(w)
			return
		}
		grant := grantOf(form, refreshOnly)
		if f := checkNoClientAuth(w, r, form); f != nil {
			i.metrics.request(grant, f.result)
			f.write(w)
			return
		}
		proof, f := i.readProof(w, r, refreshOnly)
		if f != nil {
			i.metrics.request(grant, f.result)
			f.write(w)
			return
		}
		var resp *TokenResponse
		switch gt := form.Get("grant_type"); {
		case gt == "refresh_token" || (refreshOnly && gt == ""):
			resp, f = i.refreshGrant(r, form, proof)
		case gt == GrantTypeTokenExchange && !refreshOnly && ex != nil && len(i.exchange) > 0:
			resp, f = i.exchangeGrant(r, form, ex, proof)
		case gt == "":
			f = invalidRequest("missing grant_type")
		default:
			f = &failure{http.StatusBadRequest, "unsupported_grant_type", "grant type is not supported", resultInvalidReq}
		}
		if f != nil {
			i.metrics.request(grant, f.result)
			f.write(w)
			return
		}
		i.metrics.request(grant, resultIssued)
		if proof != nil && proof.NextNonce != "" {
			// The proof's nonce expires soon: the next one (RFC 9449 §8.2).
			w.Header().Set("DPoP-Nonce", proof.NextNonce)
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// grantOf maps the grant_type parameter to its metric label.
func grantOf(form map[string][]string, refreshOnly bool) string {
	var gt string
	if v := form["grant_type"]; len(v) > 0 {
		gt = v[0]
	}
	switch {
	case gt == "refresh_token" || (refreshOnly && gt == ""):
		return grantRefresh
	case gt == GrantTypeTokenExchange && !refreshOnly:
		return grantExchange
	default:
		return grantUnsupported
	}
}

// checkNoClientAuth refuses client authentication the endpoint does not
// perform. A bearer Authorization header is ignored: browser clients often
// attach their access token to every request.
func checkNoClientAuth(w http.ResponseWriter, r *http.Request, form map[string][]string) *failure {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Basic") {
		w.Header().Set("WWW-Authenticate", `Basic realm="jwt-authz"`)
		return &failure{http.StatusUnauthorized, "invalid_client", "client authentication is not supported; clients are public", resultInvalidReq}
	}
	for _, p := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		if _, ok := form[p]; ok {
			return &failure{http.StatusUnauthorized, "invalid_client", "client authentication is not supported; clients are public", resultInvalidReq}
		}
	}
	return nil
}
