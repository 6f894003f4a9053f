package dpop

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/token"
)

// ProofType is the JOSE "typ" of a DPoP proof.
const ProofType = "dpop+jwt"

// proofKey is what a proof's header yields: the algorithm it names and
// the public key it carries, checked as a JWKS key is checked, with its
// RFC 7638 thumbprint.
type proofKey struct {
	alg token.Algorithm
	key *jwks.Key
}

// privateMembers are the JWK members of private and symmetric keys (RFC
// 7518 §6): a proof's jwk must be a public key, never these.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// readHeader decodes a proof's header: typ dpop+jwt, an asymmetric alg,
// no crit, and a jwk that is a public RSA, EC or OKP key. The algorithm is
// checked against the allowed set by the caller, since a cached header is
// shared by providers' checks.
func readHeader(decoded []byte) (*proofKey, error) {
	var h struct {
		Typ  *string         `json:"typ"`
		Alg  *string         `json:"alg"`
		JWK  json.RawMessage `json:"jwk"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(decoded, &h); err != nil {
		return nil, invalid("header is not a JSON object")
	}
	// RFC 7515 §4.1.9: the media type, with or without "application/".
	if h.Typ == nil || !strings.EqualFold(strings.TrimPrefix(strings.ToLower(*h.Typ), "application/"), ProofType) {
		return nil, invalid("typ is not %s", ProofType)
	}
	if h.Alg == nil {
		return nil, invalid("no alg")
	}
	alg, ok := token.ParseAlgorithm(*h.Alg)
	if !ok {
		// none and the HMAC algorithms are not signature algorithms.
		return nil, invalid("alg %q is not an asymmetric signature algorithm", clip(*h.Alg))
	}
	if h.Crit != nil {
		return nil, invalid("crit names extensions that are not understood")
	}
	key, err := readJWK(h.JWK)
	if err != nil {
		return nil, err
	}
	return &proofKey{alg: alg, key: key}, nil
}

// readJWK decodes the proof's public key with the checks a JWKS key gets
// (RSA 2048 to 8192 bits, EC points on their curve, canonical Ed25519
// keys), refusing private and symmetric keys outright.
func readJWK(raw json.RawMessage) (*jwks.Key, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, invalid("no jwk")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, invalid("jwk is not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, invalid("jwk holds a private or symmetric key (member %q)", m)
		}
	}
	set := make([]byte, 0, len(raw)+12)
	set = append(set, `{"keys":[`...)
	set = append(set, raw...)
	set = append(set, "]}"...)
	keys, err := jwks.ParseSet(set)
	if err != nil || len(keys) != 1 {
		return nil, invalid("jwk is not a usable public key")
	}
	return keys[0], nil
}

// clip bounds a client's string quoted in an error.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
