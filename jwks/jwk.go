package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The JWK members of RFC 7517 and RFC 7518 section 6 are decoded here, with
// the standard library, rather than by a JOSE library: this package needs
// only public signature keys, and leaving the library out keeps about
// 0.5 MB out of the binary and its pages out of the server's RSS.

// jwkMembers is the part of a JWK a verification key is built from.
type jwkMembers struct {
	kty, use, alg, kid string
	keyOps             []string
	private            bool // "d" is present
	public             crypto.PublicKey
}

// decodeJWK reads the members of one JWK. Members of the wrong JSON type,
// missing key material and base64url that does not decode are malformed;
// an unsupported curve is unsupported. The key material is not checked
// against the bounds yet (see checkPublicKey).
func decodeJWK(fields map[string]json.RawMessage) (*jwkMembers, error) {
	k := &jwkMembers{}
	for _, m := range []struct {
		name string
		into any
	}{{"kty", &k.kty}, {"use", &k.use}, {"alg", &k.alg}, {"kid", &k.kid}, {"key_ops", &k.keyOps}} {
		if raw, ok := fields[m.name]; ok {
			if err := json.Unmarshal(raw, m.into); err != nil {
				return nil, fmt.Errorf("malformed JWK: %s: %w", m.name, err)
			}
		}
	}
	_, k.private = fields["d"]
	var err error
	switch k.kty {
	case "RSA":
		k.public, err = decodeRSA(fields)
	case "EC":
		k.public, err = decodeEC(fields)
	case "OKP":
		k.public, err = decodeOKP(fields)
	case "oct":
		// Never decoded: a shared secret must not verify tokens from a JWKS.
		return nil, refuse(SkipUnsupported, "symmetric (oct) key")
	default:
		return nil, refuse(SkipUnsupported, "unsupported kty %q", clip(k.kty))
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

func decodeRSA(fields map[string]json.RawMessage) (crypto.PublicKey, error) {
	n, err := bytesMember(fields, "n")
	if err != nil {
		return nil, err
	}
	e, err := bytesMember(fields, "e")
	if err != nil {
		return nil, err
	}
	N, E := new(big.Int).SetBytes(n), new(big.Int).SetBytes(e)
	if err := checkRSA(N, E); err != nil {
		return nil, err
	}
	return &rsa.PublicKey{N: N, E: int(E.Int64())}, nil
}

func decodeEC(fields map[string]json.RawMessage) (crypto.PublicKey, error) {
	crv, err := stringMember(fields, "crv")
	if err != nil {
		return nil, err
	}
	var c elliptic.Curve
	switch crv {
	case "P-256":
		c = elliptic.P256()
	case "P-384":
		c = elliptic.P384()
	case "P-521":
		c = elliptic.P521()
	default:
		return nil, refuse(SkipUnsupported, "EC curve %q is not supported", clip(crv))
	}
	x, err := bytesMember(fields, "x")
	if err != nil {
		return nil, err
	}
	y, err := bytesMember(fields, "y")
	if err != nil {
		return nil, err
	}
	// Whether the point lies on the curve is checkPublicKey's to decide.
	return &ecdsa.PublicKey{Curve: c, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
}

func decodeOKP(fields map[string]json.RawMessage) (crypto.PublicKey, error) {
	crv, err := stringMember(fields, "crv")
	if err != nil {
		return nil, err
	}
	if crv != "Ed25519" {
		// X25519 agrees keys and does not sign; Ed448 is not supported.
		return nil, refuse(SkipUnsupported, "OKP curve %q is not supported", clip(crv))
	}
	x, err := bytesMember(fields, "x")
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(x), nil
}

// stringMember decodes a required string member.
func stringMember(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok {
		return "", fmt.Errorf("malformed JWK: no %q", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("malformed JWK: %s: %w", name, err)
	}
	return s, nil
}

// bytesMember decodes a required base64url member. Padding and the
// standard alphabet are tolerated, as JWK decoders do.
func bytesMember(fields map[string]json.RawMessage, name string) ([]byte, error) {
	s, err := stringMember(fields, name)
	if err != nil {
		return nil, err
	}
	b, err := decodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("malformed JWK: %s: %w", name, err)
	}
	return b, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, errors.New("not base64url")
		}
	}
	return b, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint, base64url, of an
// *rsa.PublicKey, an *ecdsa.PublicKey on P-256, P-384 or P-521, or an
// ed25519.PublicKey. It is computed from the key material, so it is
// canonical however a JWK encoded it.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var members string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "", errors.New("thumbprint: empty RSA public key")
		}
		members = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(big.NewInt(int64(k.E)).Bytes()), b64(k.N.Bytes()))
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", errors.New("thumbprint: empty EC public key")
		}
		point, err := k.Bytes() // 0x04 || x || y, each the curve's size
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		size := (len(point) - 1) / 2
		members = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, k.Curve.Params().Name, b64(point[1:1+size]), b64(point[1+size:]))
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("thumbprint: Ed25519 public key of %d bytes", len(k))
		}
		members = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":%q}`, b64(k))
	default:
		return "", fmt.Errorf("thumbprint: unsupported key type %T", pub)
	}
	sum := sha256.Sum256([]byte(members))
	return b64(sum[:]), nil
}
