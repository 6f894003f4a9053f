package issuer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Token types of the JOSE "typ" header.
const (
	typAccess  = "at+jwt" // RFC 9068
	typRefresh = "rt+jwt"
)

// maxClaimsBytes bounds the extra claims of a session (JSON-encoded): the
// access token must stay well under the 8 KiB limit the check applies.
const maxClaimsBytes = 4 << 10

// maxSubjectBytes bounds "sub".
const maxSubjectBytes = 1024

// maxScopeBytes bounds "scope".
const maxScopeBytes = 2048

// reservedClaims are set by the issuer and never taken from MintRequest
// Claims or an exchanged token.
var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true,
	"jti": true, "sid": true, "scope": true, "scp": true, "client_id": true,
	"typ": true, "cnf": true, "act": true, "may_act": true, "auth_time": true,
}

// accessClaims are the registered claims of an access token, in the order
// they are encoded.
type accessClaims struct {
	Issuer   string        `json:"iss"`
	Subject  string        `json:"sub"`
	Audience any           `json:"aud"` // string or []string
	Expiry   int64         `json:"exp"`
	IssuedAt int64         `json:"iat"`
	ID       string        `json:"jti"`
	Session  string        `json:"sid"`
	Scope    string        `json:"scope,omitempty"`
	ClientID string        `json:"client_id"`
	Cnf      *confirmation `json:"cnf,omitempty"`
}

// confirmation is the cnf claim of a DPoP-bound access token (RFC 9449
// §6.1).
type confirmation struct {
	JKT string `json:"jkt"`
}

func confirmationOf(jkt string) *confirmation {
	if jkt == "" {
		return nil
	}
	return &confirmation{JKT: jkt}
}

// refreshClaims are the claims of a refresh token.
type refreshClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	ID       string `json:"jti"`
	Session  string `json:"sid"`
}

// encodeExtraClaims validates claims and encodes them as a JSON object, nil
// when there are none.
func encodeExtraClaims(claims map[string]any) ([]byte, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	for name := range claims {
		if name == "" {
			return nil, fmt.Errorf("%w: empty claim name", ErrInvalidRequest)
		}
		if reservedClaims[name] {
			return nil, fmt.Errorf("%w: claim %q is set by the issuer", ErrInvalidRequest, name)
		}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("%w: claims are not JSON: %v", ErrInvalidRequest, err)
	}
	if len(b) > maxClaimsBytes {
		return nil, fmt.Errorf("%w: claims exceed %d bytes", ErrInvalidRequest, maxClaimsBytes)
	}
	return b, nil
}

// appendClaims returns the JSON object registered with the members of extra
// (a JSON object encoded by encodeExtraClaims and kept in the session) added.
// Both are objects with disjoint member names, so splicing them is exact;
// extra is checked again because it comes back from the session store.
func appendClaims(registered, extra []byte) ([]byte, error) {
	extra = bytes.TrimSpace(extra)
	if len(extra) == 0 {
		return registered, nil
	}
	if extra[0] != '{' || extra[len(extra)-1] != '}' || !json.Valid(extra) {
		return nil, errors.New("stored session claims are not a JSON object")
	}
	if len(extra) == 2 {
		return registered, nil
	}
	out := make([]byte, 0, len(registered)+len(extra))
	out = append(out, registered[:len(registered)-1]...)
	out = append(out, ',')
	return append(out, extra[1:]...), nil
}

// validScope reports whether s is a space-separated list of RFC 6749 §3.3
// scope tokens (printable ASCII except space, '"' and '\'), possibly empty.
func validScope(s string) bool {
	if len(s) > maxScopeBytes {
		return false
	}
	if s == "" {
		return true
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
	}
	return true
}

// scopeSubset reports whether every token of requested is in granted.
func scopeSubset(requested, granted string) bool {
	have := strings.Fields(granted)
	for _, r := range strings.Fields(requested) {
		found := false
		for _, g := range have {
			if r == g {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// validSubject reports whether s can be a "sub".
func validSubject(s string) bool {
	if s == "" || len(s) > maxSubjectBytes || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
