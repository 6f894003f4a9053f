package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/jwt-authz/jwt-authz/internal/jsontape"
)

// Static parse errors, built once: rejecting garbage allocates nothing.
var (
	errNotCompact  = fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	errExtraParts  = fmt.Errorf("%w: not a compact JWS (encrypted or extra part)", ErrMalformed)
	errHeaderB64   = fmt.Errorf("%w: header is not base64url", ErrMalformed)
	errHeaderJSON  = fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	errCrit        = fmt.Errorf("%w: unsupported crit header", ErrMalformed)
	errPayloadB64  = fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	errPayloadJSON = fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	errClaimsJSON  = fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
)

// header is the part of a JOSE header this package reads. jku, x5u, jwk
// and x5c are deliberately not fields: they are never trusted.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// parsed is a compact JWS split into its parts and decoded, not yet verified.
type parsed struct {
	alg          Algorithm
	header       header
	claims       Claims
	signingInput string // header.payload, as received
	payload64    string // the payload part, as received
	signature    string // base64url, as received
}

var b64 = base64.RawURLEncoding

// parse splits and decodes a compact JWS. It never verifies anything.
func parse(raw string) (*parsed, error) {
	p, err := parseHeader(raw, nil)
	if err != nil {
		return nil, err
	}
	return p, p.decodePayload()
}

// parseHeader splits a compact JWS and decodes its header only, so that a
// token whose algorithm or key id cannot be used is rejected before its
// payload costs anything.
// A header already seen is taken from hc (which may be nil).
func parseHeader(raw string, hc *headerCache) (*parsed, error) {
	h, err := splitHeader(raw, hc)
	if err != nil {
		return nil, err
	}
	return &parsed{
		alg:          h.alg,
		header:       h.header,
		signingInput: raw[:h.dot2],
		payload64:    raw[h.dot1+1 : h.dot2],
		signature:    raw[h.dot2+1:],
	}, nil
}

// jwsHeader is a split compact JWS with its decoded header, returned by
// value so that a token rejected on its header alone allocates nothing.
type jwsHeader struct {
	header     header
	alg        Algorithm
	dot1, dot2 int // positions of the two dots
}

func splitHeader(raw string, hc *headerCache) (jwsHeader, error) {
	var h jwsHeader
	dot1 := strings.IndexByte(raw, '.')
	if dot1 <= 0 {
		return h, errNotCompact
	}
	dot2 := strings.IndexByte(raw[dot1+1:], '.')
	if dot2 <= 0 {
		return h, errNotCompact
	}
	dot2 += dot1 + 1
	if strings.IndexByte(raw[dot2+1:], '.') >= 0 {
		return h, errExtraParts
	}
	h.dot1, h.dot2 = dot1, dot2
	if hc != nil {
		if e, ok := hc.get(raw[:dot1]); ok {
			h.header, h.alg = e.header, e.alg
			return h, nil
		}
	}
	hd, alg, err := decodeHeader(raw[:dot1])
	if err != nil {
		return h, err
	}
	h.header, h.alg = *hd, alg
	if hc != nil {
		hc.put(raw[:dot1], *hd, alg)
	}
	return h, nil
}

// decodeHeader decodes a header segment. It is apart from splitHeader so
// that only a header not found in the cache costs an allocation.
func decodeHeader(segment string) (*header, Algorithm, error) {
	raw, err := b64.DecodeString(segment)
	if err != nil {
		return nil, algInvalid, errHeaderB64
	}
	var hd header
	if err := json.Unmarshal(raw, &hd); err != nil {
		return nil, algInvalid, errHeaderJSON
	}
	if hd.Crit != nil {
		// No extension is understood, so any critical one rejects the token
		// (RFC 7515 §4.1.11).
		return nil, algInvalid, errCrit
	}
	alg, ok := ParseAlgorithm(hd.Alg)
	if !ok {
		return nil, algInvalid, &unsupportedAlgError{name: sanitize(hd.Alg)}
	}
	return &hd, alg, nil
}

// decodePayload decodes the claims of a parsed header's token.
func (p *parsed) decodePayload() error {
	payload, err := b64.DecodeString(p.payload64)
	if err != nil {
		return errPayloadB64
	}
	if err := decodeClaims(payload, &p.claims); err != nil {
		return err
	}
	p.claims.Type = p.header.Typ
	p.claims.KeyID = p.header.Kid
	p.claims.Algorithm = p.header.Alg
	return nil
}

var tapes = sync.Pool{New: func() any { return new(jsontape.Tape) }}

// decodeClaims indexes the payload in one allocation-free pass and reads
// the registered claims from it; the rest of the payload stays as
// RawPayload, for Decode and for callers that read it themselves.
func decodeClaims(payload []byte, c *Claims) error {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return errPayloadJSON
	}
	t := tapes.Get().(*jsontape.Tape)
	defer tapes.Put(t)
	if err := t.Parse(payload); err != nil {
		return errClaimsJSON
	}
	m := t.Root()
	c.RawPayload = payload
	var err error
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{"iss", &c.Issuer}, {"sub", &c.Subject}, {"jti", &c.ID}, {"sid", &c.SessionID}} {
		if *f.dst, err = stringClaim(m, f.name); err != nil {
			return err
		}
	}
	if c.Audience, err = decodeAudience(field(m, "aud")); err != nil {
		return err
	}
	for _, f := range [...]struct {
		name string
		dst  *int64
	}{{"exp", &c.Expiry}, {"nbf", &c.NotBefore}, {"iat", &c.IssuedAt}} {
		if *f.dst, err = decodeNumericDate(f.name, field(m, f.name)); err != nil {
			return err
		}
	}
	if c.Scope, err = decodeScope(field(m, "scope"), field(m, "scp")); err != nil {
		return err
	}
	return nil
}

// field is a member of the claims object; absent and null read the same
// (as the zero Value).
func field(m jsontape.Value, name string) jsontape.Value {
	v, ok := m.Field(name)
	if !ok || v.Kind() == jsontape.Null {
		return jsontape.Value{}
	}
	return v
}

// claimString copies a string claim out of the payload buffer.
func claimString(v jsontape.Value) (string, bool) {
	s, ok := v.String()
	return strings.Clone(s), ok
}

func stringClaim(m jsontape.Value, name string) (string, error) {
	v := field(m, name)
	if !v.Exists() {
		return "", nil
	}
	s, ok := claimString(v)
	if !ok {
		return "", fmt.Errorf("%w: %s must be a string", ErrMalformed, name)
	}
	return s, nil
}

// decodeAudience accepts a string or an array of strings (RFC 7519 §4.1.3).
func decodeAudience(v jsontape.Value) ([]string, error) {
	switch v.Kind() {
	case jsontape.Invalid:
		return nil, nil
	case jsontape.String:
		s, _ := claimString(v)
		return []string{s}, nil
	case jsontape.Array:
		return stringList("aud", v)
	}
	return nil, fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
}

func stringList(name string, list jsontape.Value) ([]string, error) {
	out := make([]string, 0, list.Len())
	for it := list.Iter(); it.Next(); {
		s, ok := claimString(it.Value())
		if !ok {
			return nil, fmt.Errorf("%w: %s must hold strings", ErrMalformed, name)
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeNumericDate reads a JSON number of seconds (fractions allowed, as
// RFC 7519 permits) and returns whole seconds; 0 when absent.
func decodeNumericDate(name string, v jsontape.Value) (int64, error) {
	if !v.Exists() {
		return 0, nil
	}
	if v.Kind() != jsontape.Number {
		return 0, fmt.Errorf("%w: %s must be a number", ErrMalformed, name)
	}
	f, ok := v.Float()
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return 0, fmt.Errorf("%w: %s must be a non-negative number", ErrMalformed, name)
	}
	return int64(f), nil
}

// decodeScope reads "scope" (a space-separated string, RFC 8693) or, when
// absent, "scp" (an array of strings, or a string, as some IdPs send).
func decodeScope(scope, scp jsontape.Value) (string, error) {
	v, name := scope, "scope"
	if !v.Exists() {
		v, name = scp, "scp"
	}
	switch v.Kind() {
	case jsontape.Invalid:
		return "", nil
	case jsontape.String:
		s, _ := claimString(v)
		return s, nil
	case jsontape.Array:
		list, err := stringList(name, v)
		if err != nil {
			return "", err
		}
		return strings.Join(list, " "), nil
	}
	return "", fmt.Errorf("%w: %s must be a string or an array of strings", ErrMalformed, name)
}

// sanitize bounds a header value before it reaches an error message.
func sanitize(s string) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return strconv.Quote(s)
}
