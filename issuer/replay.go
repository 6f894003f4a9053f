package issuer

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The replay is the pair issued by a rotation, kept in the session record
// for refresh_reuse_grace so that a client retrying a refresh whose response
// was lost receives the same pair again. It holds live tokens, so it is
// sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the signing
// key: every replica sharing the signing key Secret can open it, the session
// backend (Redis) cannot. Keys derived from previous keys still open replays
// sealed just before a rotation of the signing key.

const replayInfo = "jwt-authz refresh replay v1"

// errReplayOpen means no key opens a replay.
var errReplayOpen = errors.New("replay cannot be opened")

// replayAEAD derives the replay cipher of one private key.
func replayAEAD(s crypto.Signer) (cipher.AEAD, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	key, err := hkdf.Key(sha256.New, der, nil, replayInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive replay key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("replay cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// replayPayload is the sealed content.
type replayPayload struct {
	AccessToken  string `json:"a"`
	RefreshToken string `json:"r"`
	Scope        string `json:"s,omitempty"`
	AccessExp    int64  `json:"e"`
	// TokenType is the pair's token_type: DPoP for a DPoP-bound access
	// token; empty (Bearer) in replays sealed before it was kept.
	TokenType string `json:"t,omitempty"`
}

// replayAAD binds a replay to the session and the refresh jti it answers,
// so a sealed replay moved to another record does not open.
func replayAAD(sid, jti string) []byte {
	return []byte(sid + "\x00" + jti)
}

// sealReplay seals the response to a refresh presenting jti of session sid.
func (k *Keys) sealReplay(sid, jti string, resp *TokenResponse, accessExp time.Time) ([]byte, error) {
	plain, err := json.Marshal(replayPayload{
		AccessToken:  resp.AccessToken,
		RefreshToken: resp.RefreshToken,
		Scope:        resp.Scope,
		AccessExp:    accessExp.Unix(),
		TokenType:    resp.TokenType,
	})
	if err != nil {
		return nil, fmt.Errorf("encode replay: %w", err)
	}
	aead := k.replayKey[0]
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(out)
	return aead.Seal(out, out, plain, replayAAD(sid, jti)), nil
}

// openReplay opens a replay sealed by sealReplay with any published key and
// rebuilds the response as of now.
func (k *Keys) openReplay(sid, jti string, sealed []byte, now time.Time) (*TokenResponse, error) {
	aad := replayAAD(sid, jti)
	for _, aead := range k.replayKey {
		n := aead.NonceSize()
		if len(sealed) < n+aead.Overhead() {
			return nil, errReplayOpen
		}
		plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
		if err != nil {
			continue
		}
		var p replayPayload
		if err := json.Unmarshal(plain, &p); err != nil {
			return nil, fmt.Errorf("decode replay: %w", err)
		}
		tt := p.TokenType
		if tt == "" {
			tt = "Bearer"
		}
		return &TokenResponse{
			AccessToken:  p.AccessToken,
			TokenType:    tt,
			ExpiresIn:    max(p.AccessExp-now.Unix(), 0),
			RefreshToken: p.RefreshToken,
			Scope:        p.Scope,
		}, nil
	}
	return nil, errReplayOpen
}
