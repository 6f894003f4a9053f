package main

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/extauthz"
)

// dpopNonceKey is the key of DPoP server nonces: dpop_nonce_key_file,
// shared by replicas, or a key of this process alone.
func dpopNonceKey(cfg *config.Config) ([]byte, error) {
	if cfg.DPoPNonceKeyFile != "" {
		key, err := config.ReadDPoPNonceKey(cfg.DPoPNonceKeyFile)
		if err != nil {
			return nil, fmt.Errorf("dpop_nonce_key_file: %w", err)
		}
		return key, nil
	}
	key := make([]byte, config.MinDPoPNonceKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("dpop nonce key: %w", err)
	}
	return key, nil
}

// dpopSettings are one provider's DPoP keys.
type dpopSettings struct {
	name       string
	algorithms []string // nil: every asymmetric algorithm
	mode       string
	maxAge     time.Duration
	skew       time.Duration
	nonce      bool
}

// newDPoPChecker builds the proof checker of one provider, with replay
// cache rc and, when the provider asks for them, nonces under key.
func newDPoPChecker(s dpopSettings, rc dpop.ReplayCache, key []byte) (*dpop.Checker, error) {
	var nonces *dpop.Nonces
	if s.nonce {
		var err error
		if nonces, err = dpop.NewNonces(key, s.maxAge); err != nil {
			return nil, fmt.Errorf("provider %s: %w", s.name, err)
		}
	}
	return dpop.New(dpop.Config{
		Provider: s.name, Algorithms: s.algorithms, MaxAge: s.maxAge, ClockSkew: s.skew, Replay: rc, Nonces: nonces,
	})
}

// setDPoP gives an extauthz provider its DPoP checker and mode.
func (ps *providerSet) setDPoP(p *extauthz.Provider, s dpopSettings) error {
	c, err := newDPoPChecker(s, ps.replay, ps.nonceKey)
	if err != nil {
		return err
	}
	p.DPoP, p.DPoPRequired = c, s.mode == config.DPoPRequired
	return nil
}

// selfDPoP are the DPoP settings of the built-in issuer's provider: proofs
// may use any asymmetric algorithm, whatever the issuer signs with.
func selfDPoP(cfg *config.Config, skew time.Duration) dpopSettings {
	is := cfg.Issuer
	return dpopSettings{name: config.SelfProvider, mode: is.DPoP, maxAge: is.DPoPProofMaxAge, skew: skew, nonce: is.DPoPNonce}
}
