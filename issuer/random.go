package issuer

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

var b64 = base64.RawURLEncoding

// randomID returns 128 random bits, base64url without padding (22 chars).
// crypto/rand.Read never fails on supported platforms (it aborts the program
// rather than return short), so there is no error to handle.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// hashID returns the first 16 hex characters of the SHA-256 of an
// identifier, for audit lines that must correlate events without disclosing
// the identifier itself.
func hashID(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}
