package extauthz

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"sync"

	"github.com/jwt-authz/jwt-authz/internal/jsontape"
)

// scratch is the per-request working space of a decision: the decoded
// payload of the token, its tape, and the buffers a response is built in.
// It is pooled, so nothing read from it may be kept after the request.
type scratch struct {
	payload  []byte
	tape     jsontape.Tape
	structPB []byte // the payload as a protobuf Struct
	upstream []header
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.payload) > maxPooledPayload {
		*sc = scratch{}
	}
	clear(sc.upstream[:cap(sc.upstream)])
	sc.upstream = sc.upstream[:0]
	scratchPool.Put(sc)
}

// maxPooledPayload bounds the payload buffer a pooled scratch keeps.
const maxPooledPayload = 16 << 10

// claimsView is a verified token's payload as one request reads it: the
// registered claims a decision needs, and the payload's tape for the rest.
// Its strings point into the request's scratch.
type claimsView struct {
	root      jsontape.Value
	payload64 string // the token's payload segment
	jti       string
	sid       string
	sub       string
	iat       int64
	certBound bool   // cnf has x5t#S256: the token is bound to a certificate
	x5t       string // cnf["x5t#S256"], when it is a string
	dpopBound bool   // cnf has jkt: the token is bound to a DPoP key
	jkt       string // cnf.jkt, when it is a string
}

var errPayload = errors.New("extauthz: token payload unreadable")

// payloadEncoding decodes the segment exactly as the verifier did.
var payloadEncoding = base64.RawURLEncoding.Strict()

// readClaims indexes the payload of raw, a token whose signature and
// claims were verified, into sc. A cached token is read again on every
// hit: the cache keeps only which provider and key verified it. decoded,
// when not nil, is the payload the verifier already decoded (on a miss),
// which is then indexed as it is; it must stay unchanged while cv is used.
func (sc *scratch) readClaims(raw string, decoded []byte, cv *claimsView) error {
	first := strings.IndexByte(raw, '.')
	if first < 0 {
		return errPayload
	}
	rest := raw[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 {
		return errPayload
	}
	if decoded != nil {
		cv.payload64 = rest[:second]
		return sc.index(decoded, cv)
	}
	return sc.readPayload(rest[:second], cv)
}

// readPayload decodes payload64, a verified token's payload segment, into
// sc and indexes it.
func (sc *scratch) readPayload(payload64 string, cv *claimsView) error {
	cv.payload64 = payload64
	n := payloadEncoding.DecodedLen(len(cv.payload64))
	if cap(sc.payload) < n {
		sc.payload = make([]byte, n)
	}
	n, err := payloadEncoding.Decode(sc.payload[:n], str2bytes(cv.payload64))
	if err != nil {
		return errPayload
	}
	sc.payload = sc.payload[:n]
	return sc.index(sc.payload, cv)
}

// index parses a decoded payload into sc's tape and reads the claims a
// decision needs.
func (sc *scratch) index(payload []byte, cv *claimsView) error {
	if err := sc.tape.Parse(payload); err != nil {
		return errPayload
	}
	cv.root = sc.tape.Root()
	if cv.root.Kind() != jsontape.Object {
		return errPayload
	}
	// One pass over the members reads the claims revocation needs; of
	// repeated names the last counts, as in the verifier's decoding.
	cv.jti, cv.sid, cv.sub, cv.iat = "", "", "", 0
	cv.certBound, cv.x5t = false, ""
	cv.dpopBound, cv.jkt = false, ""
	for it := cv.root.Iter(); it.Next(); {
		name, _ := it.Key().String()
		if len(name) != 3 {
			continue
		}
		v := it.Value()
		switch name {
		case "jti":
			cv.jti, _ = v.String()
		case "sid":
			cv.sid, _ = v.String()
		case "sub":
			cv.sub, _ = v.String()
		case "cnf":
			// A thumbprint that is not a string binds the token to no
			// certificate at all: it is bound, and never matches.
			x, bound := v.Field("x5t#S256")
			cv.certBound = bound
			cv.x5t, _ = x.String()
			// Likewise a jkt that is not a string matches no key.
			j, bound := v.Field("jkt")
			cv.dpopBound = bound
			cv.jkt, _ = j.String()
		case "iat":
			cv.iat = 0
			if f, ok := v.Float(); ok && f >= 0 && f <= 1<<53 && !math.IsNaN(f) {
				cv.iat = int64(f)
			}
		}
	}
	return nil
}

// hasScopes reports whether every scope in want is granted: by "scope"
// (a space-separated string, or an array of strings) or, when that is
// absent or null, by "scp" (the same forms), as token.Claims.Scope reads
// them.
func (cv *claimsView) hasScopes(want []string) bool {
	if len(want) == 0 {
		return true
	}
	v, ok := cv.root.Field("scope")
	if !ok || v.Kind() == jsontape.Null {
		if v, ok = cv.root.Field("scp"); !ok {
			return false
		}
	}
	for _, w := range want {
		if !grants(v, w) {
			return false
		}
	}
	return true
}

func grants(v jsontape.Value, want string) bool {
	switch v.Kind() {
	case jsontape.String:
		s, _ := v.String()
		return hasField(s, want)
	case jsontape.Array:
		for it := v.Iter(); it.Next(); {
			e := it.Value()
			// An element with spaces was joined with them: each of its
			// words is a scope.
			if s, ok := e.String(); ok && hasField(s, want) {
				return true
			}
		}
	}
	return false
}

// hasField reports whether want is one of the space-separated fields of
// list.
func hasField(list, want string) bool {
	for list != "" {
		f, rest, _ := strings.Cut(list, " ")
		if f == want {
			return true
		}
		list = rest
	}
	return false
}
