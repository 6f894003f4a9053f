package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// header is the part of a JOSE header this package reads. jku, x5u, jwk
// and x5c are deliberately not fields: they are never trusted.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// rawClaims mirrors the registered claims; anything else stays in the
// payload bytes.
type rawClaims struct {
	Iss   *string         `json:"iss"`
	Sub   *string         `json:"sub"`
	Aud   json.RawMessage `json:"aud"`
	Exp   json.RawMessage `json:"exp"`
	Nbf   json.RawMessage `json:"nbf"`
	Iat   json.RawMessage `json:"iat"`
	Jti   *string         `json:"jti"`
	Sid   *string         `json:"sid"`
	Scope json.RawMessage `json:"scope"`
	Scp   json.RawMessage `json:"scp"`
}

// parsed is a compact JWS split into its parts and decoded, not yet verified.
type parsed struct {
	alg          Algorithm
	header       header
	claims       Claims
	signingInput string // header.payload, as received
	signature    string // base64url, as received
}

var b64 = base64.RawURLEncoding

// parse splits and decodes a compact JWS. It never verifies anything.
func parse(raw string) (*parsed, error) {
	dot1 := strings.IndexByte(raw, '.')
	if dot1 <= 0 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	rest := raw[dot1+1:]
	dot2 := strings.IndexByte(rest, '.')
	if dot2 <= 0 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	dot2 += dot1 + 1
	if strings.IndexByte(raw[dot2+1:], '.') >= 0 {
		return nil, fmt.Errorf("%w: not a compact JWS (encrypted or extra part)", ErrMalformed)
	}
	p := &parsed{signingInput: raw[:dot2], signature: raw[dot2+1:]}

	hdr, err := b64.DecodeString(raw[:dot1])
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	if err := json.Unmarshal(hdr, &p.header); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	if p.header.Crit != nil {
		// No extension is understood, so any critical one rejects the token
		// (RFC 7515 §4.1.11).
		return nil, fmt.Errorf("%w: unsupported crit header", ErrMalformed)
	}
	alg, ok := ParseAlgorithm(p.header.Alg)
	if !ok {
		return nil, &unsupportedAlgError{name: sanitize(p.header.Alg)}
	}
	p.alg = alg

	payload, err := b64.DecodeString(raw[dot1+1 : dot2])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	if err := decodeClaims(payload, &p.claims); err != nil {
		return nil, err
	}
	p.claims.Type = p.header.Typ
	p.claims.KeyID = p.header.Kid
	p.claims.Algorithm = p.header.Alg
	return p, nil
}

// decodeClaims decodes the registered claims of payload into c.
func decodeClaims(payload []byte, c *Claims) error {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return fmt.Errorf("%w: claims: %s", ErrMalformed, jsonProblem(err))
	}
	c.RawPayload = payload
	c.Issuer = deref(rc.Iss)
	c.Subject = deref(rc.Sub)
	c.ID = deref(rc.Jti)
	c.SessionID = deref(rc.Sid)
	var err error
	if c.Audience, err = decodeAudience(rc.Aud); err != nil {
		return err
	}
	if c.Expiry, err = decodeNumericDate("exp", rc.Exp); err != nil {
		return err
	}
	if c.NotBefore, err = decodeNumericDate("nbf", rc.Nbf); err != nil {
		return err
	}
	if c.IssuedAt, err = decodeNumericDate("iat", rc.Iat); err != nil {
		return err
	}
	if c.Scope, err = decodeScope(rc.Scope, rc.Scp); err != nil {
		return err
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isNull(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }

// decodeAudience accepts a string or an array of strings (RFC 7519 §4.1.3).
func decodeAudience(m json.RawMessage) ([]string, error) {
	if isNull(m) {
		return nil, nil
	}
	if m[0] == '"' {
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("%w: aud", ErrMalformed)
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(m, &list); err != nil {
		return nil, fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
	}
	return list, nil
}

// decodeNumericDate reads a JSON number of seconds (fractions allowed, as
// RFC 7519 permits) and returns whole seconds; 0 when absent.
func decodeNumericDate(name string, m json.RawMessage) (int64, error) {
	if isNull(m) {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(m), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return 0, fmt.Errorf("%w: %s must be a non-negative number", ErrMalformed, name)
	}
	return int64(f), nil
}

// decodeScope reads "scope" (a space-separated string, RFC 8693) or, when
// absent, "scp" (an array of strings, or a string, as some IdPs send).
func decodeScope(scope, scp json.RawMessage) (string, error) {
	if !isNull(scope) {
		var s string
		if err := json.Unmarshal(scope, &s); err == nil {
			return s, nil
		}
		var list []string
		if err := json.Unmarshal(scope, &list); err != nil {
			return "", fmt.Errorf("%w: scope must be a string", ErrMalformed)
		}
		return strings.Join(list, " "), nil
	}
	if isNull(scp) {
		return "", nil
	}
	if scp[0] == '"' {
		var s string
		if err := json.Unmarshal(scp, &s); err != nil {
			return "", fmt.Errorf("%w: scp", ErrMalformed)
		}
		return s, nil
	}
	var list []string
	if err := json.Unmarshal(scp, &list); err != nil {
		return "", fmt.Errorf("%w: scp must be an array of strings", ErrMalformed)
	}
	return strings.Join(list, " "), nil
}

// jsonProblem describes a JSON error without echoing token content.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if ok := asType(err, &te); ok && te.Field != "" {
		return te.Field + " has the wrong type"
	}
	return "invalid JSON"
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

// sanitize bounds a header value before it reaches an error message.
func sanitize(s string) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return strconv.Quote(s)
}
