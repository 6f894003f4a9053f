package extauthz

import (
	"context"
	"errors"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/token"
)

// dpopBound checks the DPoP binding of a verified token for the request
// (RFC 9449): a token with cnf.jkt is accepted only with the DPoP scheme
// and one valid proof of its key for this request; a provider with
// DPoPRequired refuses unbound tokens, and the DPoP scheme is refused for
// them. The proof is checked on every request, the cached ones too: only
// the token's verification is cached, never a proof's.
func dpopBound(ctx context.Context, r *request, o *outcome, raw string, now time.Time) Reason {
	p, c := o.vt.prov, &o.claims
	if !c.dpopBound {
		switch {
		case p.DPoPRequired:
			o.dpopErr = errNotBound
			return ReasonInvalidDPoPProof
		case o.dpopScheme:
			o.dpopErr = errUnboundScheme
			return ReasonInvalidDPoPProof
		}
		return ReasonOK
	}
	if !o.dpopScheme {
		o.dpopErr = errBoundAsBearer
		return ReasonInvalidDPoPProof
	}
	if p.DPoP == nil {
		o.dpopErr = errNoChecker
		return ReasonInvalidDPoPProof
	}
	if c.jkt == "" {
		o.dpopErr = errNotBound
		return ReasonInvalidDPoPProof // a jkt that is not a string binds to no key
	}
	proof, ok := r.dpopProof()
	if !ok {
		o.dpopErr = errProofHeader
		return ReasonInvalidDPoPProof
	}
	req := dpop.Request{
		Method:      r.method,
		URI:         dpop.CanonicalURI(r.originalScheme(), r.host, r.path),
		AccessToken: raw,
		JKT:         c.jkt,
	}
	pr, err := p.DPoP.Check(ctx, proof, req, now)
	switch {
	case err == nil:
		o.freshNonce = pr.NextNonce
		return ReasonOK
	case errors.Is(err, dpop.ErrReplayUnavailable):
		o.dpopErr = err
		return ReasonStoreUnavailable
	case errors.Is(err, dpop.ErrUseNonce):
		o.nonce = p.DPoP.Nonces().Current(now)
	}
	o.dpopErr = err
	return ReasonInvalidDPoPProof
}

var (
	errNotBound      = errors.New("dpop: the provider requires DPoP-bound tokens; this one is not bound")
	errUnboundScheme = errors.New("dpop: a token that is not DPoP-bound was sent with the DPoP scheme")
	errBoundAsBearer = errors.New("dpop: a DPoP-bound token was sent without the DPoP scheme")
	errNoChecker     = errors.New("dpop: the provider does not check DPoP proofs")
	errProofHeader   = errors.New("dpop: the request needs exactly one DPoP header")
)

// dpopAuthorization reads "DPoP <token>" with a case-insensitive scheme
// (RFC 9449 §7.1).
func dpopAuthorization(v string) (string, bool) {
	const scheme = "dpop "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(v[len(scheme):])
	return tok, tok != ""
}

// dpopProof returns the value of the request's one DPoP header. Two are
// refused (RFC 9449 §4.3): so is a value with a comma, which is how Envoy
// joins repeated headers in a CheckRequest, and which a compact JWS never
// holds.
func (r *request) dpopProof() (string, bool) {
	var v string
	n := 0
	if r.httpHeaders != nil {
		vs := r.httpHeaders.Values("Dpop")
		n = len(vs)
		if n == 1 {
			v = vs[0]
		}
	} else {
		for i := range r.headers {
			if r.headers[i].name == "dpop" {
				v = r.headers[i].value
				n++
			}
		}
	}
	v = strings.TrimSpace(v)
	if n != 1 || v == "" || strings.IndexByte(v, ',') >= 0 || len(v) > dpop.MaxProofBytes {
		return "", false
	}
	return v, true
}

// originalScheme is the scheme of the original request, for a proof's
// htu: as the transport names it (Envoy's attributes), else as the
// transport's proto header does (x-forwarded-proto, or the forward-auth
// endpoint's own family), else https.
func (r *request) originalScheme() string {
	if s := strings.ToLower(r.scheme); s == "http" || s == "https" {
		return s
	}
	h := r.protoHeader
	if h == "" {
		h = "x-forwarded-proto"
	}
	if v, ok := r.header(h); ok {
		v, _, _ = strings.Cut(v, ",")
		if s := strings.ToLower(strings.TrimSpace(v)); s == "http" || s == "https" {
			return s
		}
	}
	return "https"
}

// proofAlgs is the algs parameter of a provider's DPoP challenges: the
// algorithms its proofs may use.
func proofAlgs(p *Provider) string {
	if p != nil && p.DPoP != nil {
		return strings.Join(p.DPoP.Algorithms(), " ")
	}
	return strings.Join(token.DefaultAlgorithms, " ")
}

// dpopDenialFor renders a 401 with a DPoP challenge (RFC 9449 §7.1): the
// error invalid_dpop_proof for a refused proof, use_dpop_nonce with a
// DPoP-Nonce header when nonce is set, else invalid_token with the reason.
func dpopDenialFor(r Reason, algs, nonce string) denial {
	errCode := "invalid_token"
	switch {
	case nonce != "":
		errCode = "use_dpop_nonce"
	case r == ReasonInvalidDPoPProof:
		errCode = "invalid_dpop_proof"
	}
	challenge := `DPoP error="` + errCode + `", algs="` + algs + `"`
	if errCode == "invalid_token" {
		challenge += `, error_description="` + r.String() + `"`
	}
	h := []header{{"www-authenticate", challenge}, {"content-type", "application/json"}, {"cache-control", "no-store"}}
	if nonce != "" {
		h = append(h, header{"dpop-nonce", nonce})
	}
	return denial{status: 401, headers: h, body: jsonBody(errCode, r.String())}
}

// dpopDenyResponse builds the CheckResponse of a DPoP denial.
func dpopDenyResponse(r Reason, provider, algs, nonce string) *authv3.CheckResponse {
	d := dpopDenialFor(r, algs, nonce)
	resp := deniedCheckResponse(code.Code_UNAUTHENTICATED, r, provider, d)
	if nonce == "" {
		rememberWire(resp)
	}
	return resp
}

// nonceResponse is the use_dpop_nonce answer with a fresh nonce, built
// for the request.
func nonceResponse(st *providerState, nonce string) *authv3.CheckResponse {
	name := "none"
	if st.p != nil {
		name = st.p.Name()
	}
	return dpopDenyResponse(ReasonInvalidDPoPProof, name, st.algs, nonce)
}

// httpDenial is the forward-auth form of a denial, as render's.
func httpDenial(o *outcome) denial {
	var scopes []string
	switch k := o.reason.kind(); {
	case k == kindForbidden:
		scopes = o.rule.RequireScopes
	case o.nonce != "":
		return dpopDenialFor(o.reason, o.st.algs, o.nonce)
	case k == kindUnauthenticated && (o.dpopScheme || o.reason == ReasonInvalidDPoPProof):
		return dpopDenialFor(o.reason, o.st.algs, "")
	}
	return denialFor(o.reason, scopes)
}

// appendFreshNonce appends to the marshalled allowed CheckResponse b a
// second ok_response that holds only response_headers_to_add with
// DPoP-Nonce: nonce, which Envoy sends to the client with the upstream's
// answer (RFC 9449 §8.2). Protobuf parsers merge the two occurrences of
// the message field, its repeated field appended to, so the response
// built or served from the hot tier is used as it is.
func appendFreshNonce(b []byte, nonce string) []byte {
	h := header{"dpop-nonce", nonce}
	b = protowire.AppendTag(b, fieldResponseOK, bytesTag)
	b = protowire.AppendVarint(b, uint64(sizeField(headerOptionSize(h))))
	return appendHeaderOption(b, fieldOKResponseHeaders, h)
}
