package token

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/jwt-authz/jwt-authz/internal/jsontape"
)

// Static parse errors, built once: rejecting garbage allocates nothing.
var (
	errNotCompact   = fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	errExtraParts   = fmt.Errorf("%w: not a compact JWS (encrypted or extra part)", ErrMalformed)
	errHeaderB64    = fmt.Errorf("%w: header is not base64url", ErrMalformed)
	errHeaderJSON   = fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	errCrit         = fmt.Errorf("%w: unsupported crit header", ErrMalformed)
	errPayloadB64   = fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	errPayloadJSON  = fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	errClaimsJSON   = fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	errSignatureB64 = fmt.Errorf("%w: signature is not base64url", ErrMalformed)
)

// header is the part of a JOSE header this package reads. jku, x5u, jwk
// and x5c are deliberately not fields: they are never trusted.
type header struct {
	Alg string
	Kid string
	Typ string
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

// b64 decodes the three segments of a token: base64url without padding,
// with unused trailing bits zero (Strict). Together with noLineBreaks it
// admits exactly one spelling of each byte string, so that the
// verified-token cache and revocation by token see one token per
// signature.
var b64 = base64.RawURLEncoding.Strict()

// noLineBreaks reports whether seg is free of CR and LF, which the
// encoding/base64 decoders skip even in Strict mode.
func noLineBreaks(seg string) bool {
	return strings.IndexByte(seg, '\n') < 0 && strings.IndexByte(seg, '\r') < 0
}

// parse splits and decodes a compact JWS. It never verifies anything.
func parse(raw string) (*parsed, error) {
	p, err := parseHeader(raw, nil, nil)
	if err != nil {
		return nil, err
	}
	return p, p.decodePayload()
}

// parseHeader splits a compact JWS and decodes its header only, so that a
// token whose algorithm or key id cannot be used is rejected before its
// payload costs anything. hc and mayHave are as for splitHeader.
func parseHeader(raw string, hc *headerCache, mayHave func(kid string) bool) (*parsed, error) {
	h, err := splitHeader(raw, hc, mayHave)
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

// splitHeader splits raw at its dots and decodes its header, taking it
// from hc (which may be nil) when it holds the same header segment. When
// mayHave is not nil and reports that no provider can have the header's
// kid, the answer is ErrUnknownKey, found without allocating; only headers
// that pass it are added to hc, so a flood of made-up kids cannot churn it.
func splitHeader(raw string, hc *headerCache, mayHave func(kid string) bool) (jwsHeader, error) {
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
	seg := raw[:dot1]
	var hash uint64
	if hc != nil {
		var e *cachedHeader
		if e, hash = hc.get(seg); e != nil {
			if mayHave != nil && !mayHave(e.header.Kid) {
				return h, ErrUnknownKey
			}
			h.header, h.alg = e.header, e.alg
			return h, nil
		}
	}
	var err error
	h.header, h.alg, err = decodeHeader(seg, mayHave)
	switch {
	case err == nil:
		if hc != nil {
			hc.put(seg, hash, h.header, h.alg)
		}
		return h, nil
	case err == ErrUnknownKey && hc != nil && hc.refused(hash):
		// Seen before: cache it, so that it is refused from the cache.
		if hd, alg, err := decodeHeader(seg, nil); err == nil {
			hc.put(seg, hash, hd, alg)
		}
	}
	return h, err
}

// headerScratch is the reusable memory of decodeHeader.
type headerScratch struct {
	buf  []byte
	tape jsontape.Tape
}

var headerScratches = sync.Pool{New: func() any { return new(headerScratch) }}

// decodeHeader decodes a header segment: canonical base64url, then a JSON object
// indexed in one allocation-free pass (internal/jsontape). Member names are
// case-sensitive (RFC 7515 §4) and the last of duplicate names wins (§5.2).
// alg must name a supported algorithm, kid and typ must be strings when
// present, and any "crit" rejects the token: no extension is understood
// (§4.1.11). When mayHave rejects the kid the answer is ErrUnknownKey.
// Nothing is allocated but the kid and typ of a header that is kept.
func decodeHeader(segment string, mayHave func(kid string) bool) (header, Algorithm, error) {
	if !noLineBreaks(segment) {
		return header{}, algInvalid, errHeaderB64
	}
	sc := headerScratches.Get().(*headerScratch)
	defer headerScratches.Put(sc)
	raw, err := b64.AppendDecode(sc.buf[:0], unsafe.Slice(unsafe.StringData(segment), len(segment)))
	sc.buf = raw[:0]
	if err != nil {
		return header{}, algInvalid, errHeaderB64
	}
	t := &sc.tape
	if err := t.Parse(raw); err != nil {
		return header{}, algInvalid, errHeaderJSON
	}
	m := t.Root()
	if m.Kind() != jsontape.Object {
		return header{}, algInvalid, errHeaderJSON
	}
	// One pass over the members; the last of duplicates wins.
	var name, kid, typ string
	for it := m.Iter(); it.Next(); {
		key, _ := it.Key().String()
		var dst *string
		switch key {
		case "crit":
			return header{}, algInvalid, errCrit
		case "alg":
			dst = &name
		case "kid":
			dst = &kid
		case "typ":
			dst = &typ
		default:
			continue
		}
		v := it.Value()
		if v.Kind() == jsontape.Null {
			*dst = ""
			continue
		}
		s, ok := v.String()
		if !ok {
			return header{}, algInvalid, errHeaderJSON
		}
		*dst = s
	}
	alg, ok := ParseAlgorithm(name)
	if !ok {
		return header{}, algInvalid, &unsupportedAlgError{name: sanitize(name)}
	}
	if mayHave != nil && !mayHave(kid) {
		return header{}, algInvalid, ErrUnknownKey
	}
	// kid and typ alias the scratch buffer, which is reused: copy them.
	return header{Alg: alg.String(), Kid: strings.Clone(kid), Typ: strings.Clone(typ)}, alg, nil
}

// decodePayload decodes the claims of a parsed header's token.
func (p *parsed) decodePayload() error {
	if !noLineBreaks(p.payload64) {
		return errPayloadB64
	}
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
