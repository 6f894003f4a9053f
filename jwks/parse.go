package jwks

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// maxDocumentBytes bounds a JWKS or discovery document: real sets are a few
// KiB, and the limit keeps a misbehaving endpoint from exhausting memory.
const maxDocumentBytes = 1 << 20

// trustFields are JWK members that point at certificates. They are removed
// before parsing: x5u is never fetched and x5c never confers trust, so they
// must not be able to make an otherwise good key fail to parse either.
var trustFields = []string{"x5u", "x5c", "x5t", "x5t#S256"}

// keyNote is a remark about one JWK of a set, logged once when the set
// changes.
type keyNote struct {
	index   int    // position in the "keys" array
	kid     string // "" when absent or unreadable
	reason  string // one of SkipReasons when skipped
	message string
	skipped bool // false for a warning about a key that is still used
}

func newNote(index int, kid, message string, skipped bool) keyNote {
	return keyNote{index: index, kid: clip(kid), message: clip(message), skipped: skipped}
}

// skipNote is the note about a key that is not used.
func skipNote(index int, kid string, err error) keyNote {
	n := newNote(index, kid, err.Error(), true)
	n.reason = reasonOf(err)
	return n
}

// skippedKeys lists the keys the notes skip.
func skippedKeys(notes []keyNote) []SkippedKey {
	var out []SkippedKey
	for _, n := range notes {
		if n.skipped {
			out = append(out, SkippedKey{KID: n.kid, Index: n.index, Reason: n.reason, Detail: n.message})
		}
	}
	return out
}

// maxShown bounds strings taken from a fetched document before they are
// logged or put into an error.
const maxShown = 200

// clip shortens s to maxShown bytes.
func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown] + "..."
}

// parsedSet is the outcome of parsing a JWKS document.
type parsedSet struct {
	keys  []*Key
	notes []keyNote
}

// ParseSet parses a JWKS document ({"keys": [...]}) into the verification
// keys it holds, in document order. Keys that cannot verify signatures are
// left out: "use" other than "sig", "key_ops" without "verify", symmetric
// ("oct") keys, unsupported key types or curves, and keys whose "alg" does
// not fit them. So are keys that are unsafe or too costly to verify with:
// RSA moduli under 2048 or over 8192 bits, RSA exponents that are even,
// under 3 or over 2^32, EC points off their curve, and Ed25519 keys that
// are of small order or not canonically encoded (see SkipReasons). Of keys sharing a kid only the
// first is kept. "x5u" is never fetched and "x5c" is ignored. Private JWKs
// are reduced to their public part. It returns an error when the document is
// malformed, larger than 1 MiB, or has no usable key.
func ParseSet(data []byte) ([]*Key, error) {
	ps, err := parseSet(data)
	if err != nil {
		return nil, err
	}
	return ps.keys, nil
}

// parseSet is ParseSet keeping the notes about skipped keys for logging.
func parseSet(data []byte) (parsedSet, error) {
	if len(data) > maxDocumentBytes {
		return parsedSet{}, fmt.Errorf("parse jwks: document of %d bytes exceeds %d", len(data), maxDocumentBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return parsedSet{}, fmt.Errorf("parse jwks: %w", err)
	}
	if doc.Keys == nil {
		return parsedSet{}, errors.New(`parse jwks: no "keys" array`)
	}

	var ps parsedSet
	seenID := make(map[string]bool, len(doc.Keys))
	seenKey := make(map[identity]bool, len(doc.Keys))
	for i, raw := range doc.Keys {
		k, warning, err := parseKey(raw)
		if err != nil {
			ps.notes = append(ps.notes, skipNote(i, rawKID(raw), err))
			continue
		}
		switch {
		case k.ID != "" && seenID[k.ID]:
			ps.notes = append(ps.notes, skipNote(i, k.ID, refuse(SkipDuplicate, "duplicate kid; the first key with it is used")))
			continue
		case seenKey[identityOf(k)]:
			ps.notes = append(ps.notes, skipNote(i, k.ID, refuse(SkipDuplicate, "duplicate key")))
			continue
		}
		if warning != "" {
			ps.notes = append(ps.notes, newNote(i, k.ID, warning, false))
		}
		if k.ID != "" {
			seenID[k.ID] = true
		}
		seenKey[identityOf(k)] = true
		ps.keys = append(ps.keys, k)
	}
	if len(ps.keys) == 0 {
		return ps, fmt.Errorf("parse jwks: %w: %s", ErrNoUsableKeys, summarize(len(doc.Keys), ps.notes))
	}
	return ps, nil
}

// parseKey decodes one JWK into a Key, or explains why it is not a
// verification key. warning is set for a key that is used despite a defect.
func parseKey(raw json.RawMessage) (k *Key, warning string, err error) {
	// The document comes from the network and is decoded by a third-party
	// library: a defect there must cost one key, not the process.
	defer func() {
		if r := recover(); r != nil {
			k, warning, err = nil, "", fmt.Errorf("malformed JWK: %v", r)
		}
	}()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, "", fmt.Errorf("malformed JWK: %w", err)
	}
	var kty string
	if err := json.Unmarshal(fields["kty"], &kty); err != nil && fields["kty"] != nil {
		return nil, "", fmt.Errorf("malformed JWK: kty: %w", err)
	}
	switch kty {
	case "RSA":
		// Checked before decoding: the decoder truncates "e" to a machine
		// integer, and a huge modulus is not worth decoding.
		if err := checkRawRSA(fields); err != nil {
			return nil, "", err
		}
	case "EC", "OKP":
	case "oct":
		// Never parsed: a shared secret must not verify tokens from a JWKS.
		return nil, "", refuse(SkipUnsupported, "symmetric (oct) key")
	default:
		return nil, "", refuse(SkipUnsupported, "unsupported kty %q", clip(kty))
	}
	for _, f := range trustFields {
		delete(fields, f)
	}
	clean, err := json.Marshal(fields)
	if err != nil {
		return nil, "", fmt.Errorf("malformed JWK: %w", err)
	}
	key, err := jwk.ParseKey(clean)
	if err != nil {
		return nil, "", fmt.Errorf("malformed JWK: %w", err)
	}

	switch key.KeyType() {
	case jwa.RSA, jwa.EC, jwa.OKP:
	default:
		return nil, "", refuse(SkipUnsupported, "unsupported kty %q", key.KeyType())
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, "", refuse(SkipNotForSigning, "use %q is not sig", clip(use))
	}
	if ops := key.KeyOps(); len(ops) > 0 && !hasVerify(ops) {
		return nil, "", refuse(SkipNotForSigning, "key_ops exclude verify")
	}
	if private, _ := jwk.IsPrivateKey(key); private {
		// The set is published, so the private part is already exposed;
		// refusing the key would only add an outage to the leak.
		warning = "private key material published in the JWKS; only the public part is used"
		if key, err = key.PublicKey(); err != nil {
			return nil, "", fmt.Errorf("malformed JWK: %w", err)
		}
	}

	var material any
	if err := key.Raw(&material); err != nil {
		return nil, "", fmt.Errorf("malformed JWK: %w", err)
	}
	pub, err := checkPublicKey(material)
	if err != nil {
		return nil, "", err
	}
	alg := key.Algorithm().String()
	if err := checkAlgorithm(alg, pub); err != nil {
		return nil, "", err
	}
	tp, err := thumbprint(pub)
	if err != nil {
		return nil, "", err
	}
	return &Key{ID: key.KeyID(), Algorithm: alg, Public: pub, Thumbprint: tp}, warning, nil
}

func hasVerify(ops jwk.KeyOperationList) bool {
	for _, op := range ops {
		if op == jwk.KeyOpVerify {
			return true
		}
	}
	return false
}

// rawKID reads "kid" from a JWK that failed to parse, for the log only.
func rawKID(raw json.RawMessage) string {
	var v struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.KID
}

// summarize describes why a set yielded no key, for the error a caller sees
// in Status.LastError.
func summarize(total int, notes []keyNote) string {
	if total == 0 {
		return "the set is empty"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d keys skipped", total, total)
	shown := 0
	for _, n := range notes {
		if !n.skipped {
			continue
		}
		if shown == 3 {
			b.WriteString("; ...")
			break
		}
		shown++
		fmt.Fprintf(&b, "; key %d kid %q: %s: %s", n.index, n.kid, n.reason, n.message)
	}
	return b.String()
}

// checkRawRSA applies the RSA bounds to the "n" and "e" members of a JWK as
// written. A member that cannot be read is left to the JWK decoder.
func checkRawRSA(fields map[string]json.RawMessage) error {
	n, okN := rawBigInt(fields["n"])
	e, okE := rawBigInt(fields["e"])
	if !okN || !okE {
		return nil
	}
	return checkRSA(n, e)
}

// rawBigInt decodes a JWK member holding a base64url big-endian integer.
// Padding and the standard alphabet are tolerated, as JWK decoders do.
func rawBigInt(raw json.RawMessage) (*big.Int, bool) {
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	s = strings.TrimRight(s, "=")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, false
		}
	}
	return new(big.Int).SetBytes(b), true
}
