package jwks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// maxDocumentBytes bounds a JWKS or discovery document: real sets are a few
// KiB, and the limit keeps a misbehaving endpoint from exhausting memory.
const maxDocumentBytes = 1 << 20

// errNoUsableKeys is wrapped when a JWKS holds no key this package can verify
// with; the previous set is kept.
var errNoUsableKeys = errors.New("no usable signature keys")

// trustFields are JWK members that point at certificates. They are removed
// before parsing: x5u is never fetched and x5c never confers trust, so they
// must not be able to make an otherwise good key fail to parse either.
var trustFields = []string{"x5u", "x5c", "x5t", "x5t#S256"}

// keyNote is a remark about one JWK of a set, logged once when the set
// changes.
type keyNote struct {
	index   int    // position in the "keys" array
	kid     string // "" when absent or unreadable
	message string
	skipped bool // false for a warning about a key that is still used
}

func newNote(index int, kid, message string, skipped bool) keyNote {
	return keyNote{index: index, kid: clip(kid), message: clip(message), skipped: skipped}
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
// ("oct") keys, unsupported key types or curves, RSA moduli under 2048 bits
// and keys whose "alg" does not fit them. Of keys sharing a kid only the
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
			ps.notes = append(ps.notes, newNote(i, rawKID(raw), err.Error(), true))
			continue
		}
		switch {
		case k.ID != "" && seenID[k.ID]:
			ps.notes = append(ps.notes, newNote(i, k.ID, "duplicate kid; the first key with it is used", true))
			continue
		case seenKey[identityOf(k)]:
			ps.notes = append(ps.notes, newNote(i, k.ID, "duplicate key", true))
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
		return ps, fmt.Errorf("parse jwks: %w (%s)", errNoUsableKeys, summarize(len(doc.Keys), ps.notes))
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
	case "RSA", "EC", "OKP":
	case "oct":
		// Never parsed: a shared secret must not verify tokens from a JWKS.
		return nil, "", errors.New("symmetric (oct) key")
	default:
		return nil, "", fmt.Errorf("unsupported kty %q", clip(kty))
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
		return nil, "", fmt.Errorf("unsupported kty %q", key.KeyType())
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, "", fmt.Errorf("use %q is not sig", use)
	}
	if ops := key.KeyOps(); len(ops) > 0 && !hasVerify(ops) {
		return nil, "", errors.New("key_ops exclude verify")
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
		fmt.Fprintf(&b, "; key %d kid %q: %s", n.index, n.kid, n.message)
	}
	return b.String()
}
