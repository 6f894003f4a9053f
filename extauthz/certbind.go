package extauthz

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"strings"
)

// MTLSBinding says whether a provider's tokens must be bound to the
// client's certificate (RFC 8705).
type MTLSBinding uint8

const (
	// MTLSAllowed accepts unbound tokens; a bound token (cnf["x5t#S256"])
	// is accepted only with the certificate it is bound to.
	MTLSAllowed MTLSBinding = iota
	// MTLSRequired refuses unbound tokens too.
	MTLSRequired
)

// certSource says where a request's client certificate came from, and so
// how request.cert is to be read.
type certSource uint8

const (
	certNone   certSource = iota
	certPEM               // a URL-encoded PEM: Envoy's source.certificate
	certHeader            // forward_auth_client_cert_header: XFCC or a URL-encoded PEM
	certBad               // a header that cannot be trusted (sent more than once)
)

// certBound checks the certificate binding of a verified token for the
// request: a token bound to a certificate needs that certificate, and a
// provider with MTLSRequired refuses unbound tokens. The certificate is
// read and hashed only for a bound token, once per request; the binding
// is never cached, so a cached token is checked again on every request.
func certBound(p *Provider, r *request, c *claimsView) Reason {
	if !c.certBound {
		if p.MTLSBound == MTLSRequired {
			return ReasonCertMismatch
		}
		return ReasonOK
	}
	der, ok := r.certDER()
	if !ok {
		return ReasonCertMismatch
	}
	if !thumbprintMatches(der, c.x5t) {
		return ReasonCertMismatch
	}
	return ReasonOK
}

// thumbprintMatches compares the base64url SHA-256 thumbprint of der with
// want in constant time.
func thumbprintMatches(der []byte, want string) bool {
	sum := sha256.Sum256(der)
	var got [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(got[:], sum[:])
	return len(want) == len(got) && subtle.ConstantTimeCompare(got[:], str2bytes(want)) == 1
}

// certDER returns the DER of the request's client certificate, or false
// when it has none or it cannot be read.
func (r *request) certDER() ([]byte, bool) {
	switch r.certFrom {
	case certPEM:
		return pemCertDER(r.cert)
	case certHeader:
		enc, ok := clientCertValue(r.cert)
		if !ok {
			return nil, false
		}
		return pemCertDER(enc)
	}
	return nil, false
}

// pemCertDER decodes a URL-encoded PEM certificate (Envoy's
// source.certificate and XFCC Cert, nginx's $ssl_client_escaped_cert) and
// returns the DER of its first CERTIFICATE block. A '+' is read as itself,
// never as a space: only percent-escapes are decoded.
func pemCertDER(escaped string) ([]byte, bool) {
	if escaped == "" {
		return nil, false
	}
	text, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, false
	}
	b, _ := pem.Decode([]byte(text))
	if b == nil || b.Type != "CERTIFICATE" || len(b.Bytes) == 0 {
		return nil, false
	}
	return b.Bytes, true
}

// clientCertValue reads the URL-encoded PEM out of a client certificate
// header: as it is when the header is a bare URL-encoded PEM (nginx's
// $ssl_client_escaped_cert), else the Cert of an Envoy
// x-forwarded-client-cert value (see xfccCert).
func clientCertValue(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "-----BEGIN") {
		return v, true
	}
	return xfccCert(v)
}

// xfccCert returns the Cert value of the last element of an Envoy
// x-forwarded-client-cert header: the element for the client that
// connected to the proxy in front of this service (Envoy appends its own
// element after those it forwards, with APPEND_FORWARD, or sends only its
// own, with SANITIZE_SET). Elements are separated by commas, their
// key=value pairs by semicolons, and a value with either (or '=') is
// double-quoted, a quote or backslash inside escaped with a backslash. A
// value that does not parse, or a last element without Cert, is refused.
func xfccCert(v string) (string, bool) {
	elem, ok := lastXFCCElement(v)
	if !ok {
		return "", false
	}
	found := ""
	seen := false
	for elem != "" {
		pair, rest, ok := cutXFCC(elem, ';')
		if !ok {
			return "", false
		}
		elem = rest
		k, val, hasEq := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !hasEq || k == "" {
			return "", false
		}
		val, ok = unquoteXFCC(strings.TrimSpace(val))
		if !ok {
			return "", false
		}
		if strings.EqualFold(k, "Cert") {
			if seen {
				return "", false // two certificates for one client
			}
			found, seen = val, true
		}
	}
	return found, seen && found != ""
}

// lastXFCCElement returns the last comma-separated element of v, with
// commas inside quoted values kept.
func lastXFCCElement(v string) (string, bool) {
	last := ""
	for {
		elem, rest, ok := cutXFCC(v, ',')
		if !ok {
			return "", false
		}
		if strings.TrimSpace(elem) != "" {
			last = elem
		}
		if rest == "" {
			break
		}
		v = rest
	}
	return last, last != ""
}

// cutXFCC cuts s at the first sep outside a quoted value. It reports false
// for an unterminated quote.
func cutXFCC(s string, sep byte) (before, after string, ok bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			return s[:i], s[i+1:], true
		}
	}
	if quoted {
		return "", "", false
	}
	return s, "", true
}

// unquoteXFCC removes the quotes of a quoted value and its backslash
// escapes; an unquoted value is returned as it is.
func unquoteXFCC(v string) (string, bool) {
	if !strings.HasPrefix(v, `"`) {
		return v, !strings.Contains(v, `"`)
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return "", false
	}
	body := v[1 : len(v)-1]
	if !strings.Contains(body, `\`) {
		return body, !strings.Contains(body, `"`)
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' {
			if i+1 == len(body) {
				return "", false
			}
			i++
			c = body[i]
		} else if c == '"' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}
