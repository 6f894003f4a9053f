package issuer

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/jwt-authz/jwt-authz/dpop"
)

// dpopEndpoints are the URIs the token endpoint's DPoP proofs name in
// their htu, in dpop.CanonicalURI's form: the token_endpoint of the
// discovery document and the refresh endpoint under the same base.
type dpopEndpoints struct{ token, refresh string }

func newDPoPEndpoints(issuer string) (dpopEndpoints, error) {
	base := strings.TrimSuffix(issuer, "/")
	var e dpopEndpoints
	for _, x := range []struct {
		dst  *string
		path string
	}{{&e.token, PathToken}, {&e.refresh, PathRefresh}} {
		u, err := url.Parse(base + x.path)
		if err != nil {
			return e, err
		}
		*x.dst = dpop.CanonicalURI(u.Scheme, u.Host, u.EscapedPath())
	}
	return e, nil
}

// readProof checks the request's DPoP proof, when it has one (RFC 9449
// §5): for this endpoint's URI and POST, without ath. It returns nil and
// no failure for a request without a DPoP header, or when the issuer does
// not check proofs. Two DPoP headers, or an invalid proof, fail the
// request whatever its grant.
// A missing nonce is answered use_dpop_nonce with a fresh one in w's
// DPoP-Nonce header.
func (i *Issuer) readProof(w http.ResponseWriter, r *http.Request, refreshOnly bool) (*dpop.Proof, *failure) {
	c := i.opts.DPoP
	vs := r.Header.Values("DPoP")
	if c == nil || len(vs) == 0 {
		return nil, nil
	}
	if len(vs) > 1 {
		return nil, invalidProof("the request must carry one DPoP header")
	}
	uri := i.dpopURIs.token
	if refreshOnly {
		uri = i.dpopURIs.refresh
	}
	now := i.now()
	p, err := c.Check(r.Context(), vs[0], dpop.Request{Method: r.Method, URI: uri}, now)
	switch {
	case err == nil:
		return &p, nil
	case errors.Is(err, dpop.ErrUseNonce):
		w.Header().Set("DPoP-Nonce", c.Nonces().Current(now))
		return nil, &failure{http.StatusBadRequest, "use_dpop_nonce", "the DPoP proof needs the server nonce in DPoP-Nonce", resultInvalidReq}
	case errors.Is(err, dpop.ErrReplayUnavailable):
		i.log.WarnContext(r.Context(), "DPoP proof refused: replay cache unavailable", "err", err)
		return nil, unavailable("DPoP proof cannot be checked now")
	}
	i.log.DebugContext(r.Context(), "DPoP proof refused", "err", err)
	return nil, invalidProof("the DPoP proof is invalid")
}

func invalidProof(desc string) *failure {
	return &failure{status: http.StatusBadRequest, code: "invalid_dpop_proof", desc: desc, result: resultInvalidReq}
}

// sessionKey decides the key a refresh of a session bound to bound ("" for
// none) binds its access token to, and whether the rotation binds the
// session to it too. A bound session needs a proof by its key. An unbound
// one with a proof is bound to the proof's key from this rotation on (RFC
// 9449 §5: the refresh tokens of public clients are bound, and every
// client of this endpoint is public); without a proof it stays unbound.
func sessionKey(bound string, proof *dpop.Proof) (jkt string, bind bool, f *failure) {
	switch {
	case bound == "" && proof == nil:
		return "", false, nil
	case bound == "":
		return proof.JKT, true, nil
	case proof == nil:
		return "", false, invalidProof("the refresh token is bound to a DPoP key: send a DPoP proof signed with it")
	case subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(bound)) != 1:
		return "", false, invalidProof("the DPoP proof is not signed with the key the refresh token is bound to")
	}
	return bound, false, nil
}

// proofJKT is the thumbprint of an accepted proof's key, "" without one.
func proofJKT(p *dpop.Proof) string {
	if p == nil {
		return ""
	}
	return p.JKT
}

// tokenType is the token_type of an access token bound to jkt, or not.
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}
