package issuer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Well-known paths and endpoint paths, relative to the issuer URL.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/.well-known/jwks.json"
	PathToken      = "/oauth2/token"
	PathRefresh    = "/token/refresh"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
)

// GrantTypeTokenExchange is the RFC 8693 grant type.
const GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// wellKnownMaxAge is the Cache-Control max-age of the discovery document and
// the JWKS, in seconds. Relying parties pick up a new key within this time,
// which is why a new key is published as "previous" before it signs (see
// docs/issuer.md).
const wellKnownMaxAge = "300"

// discoveryDocument is the OpenID Provider Metadata / RFC 8414 document.
type discoveryDocument struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported     []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

func (i *Issuer) buildDiscovery() ([]byte, error) {
	base := strings.TrimSuffix(i.opts.Issuer, "/")
	doc, err := json.Marshal(discoveryDocument{
		Issuer:                            i.opts.Issuer,
		JWKSURI:                           base + PathJWKS,
		TokenEndpoint:                     base + PathToken,
		RevocationEndpoint:                base + PathRevoke,
		IntrospectionEndpoint:             base + PathIntrospect,
		GrantTypesSupported:               []string{"refresh_token", GrantTypeTokenExchange},
		ResponseTypesSupported:            []string{}, // no authorization endpoint
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  i.keys.algorithms(),
		TokenEndpointAuthMethodsSupported: []string{"none"},
		RevocationAuthMethodsSupported:    []string{"none"},
		DPoPSigningAlgValuesSupported:     i.dpopAlgorithms(),
	})
	if err != nil {
		return nil, fmt.Errorf("encode discovery document: %w", err)
	}
	return doc, nil
}

// DiscoveryHandler serves GET (and HEAD) /.well-known/openid-configuration.
func (i *Issuer) DiscoveryHandler() http.Handler {
	return staticJSON(i.discovery, "")
}

// JWKSHandler serves GET (and HEAD) /.well-known/jwks.json with
// Cache-Control max-age and an ETag; If-None-Match gives 304.
func (i *Issuer) JWKSHandler() http.Handler {
	return staticJSON(i.keys.jwks, i.keys.jwksETag)
}

// staticJSON serves a fixed JSON document.
func staticJSON(body []byte, etag string) http.Handler {
	ctype := "application/json"
	if etag == "" {
		etag = etagOf(body)
	} else {
		ctype = "application/jwk-set+json"
	}
	length := fmt.Sprint(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "public, max-age="+wellKnownMaxAge)
		h.Set("ETag", etag)
		h.Set("Content-Type", ctype)
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}

// etagMatch implements the weak comparison of If-None-Match.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// dpopAlgorithms are the algorithms the token endpoint accepts DPoP proofs
// in (RFC 9449 §5.1), nil when it does not check proofs.
func (i *Issuer) dpopAlgorithms() []string {
	if i.opts.DPoP == nil {
		return nil
	}
	return i.opts.DPoP.Algorithms()
}
