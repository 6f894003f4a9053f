package config

import (
	"bytes"
	"fmt"
	"time"
)

// Values of providers[].dpop and issuer.dpop.
const (
	// DPoPAllowed accepts bearer tokens; a DPoP-bound token (cnf.jkt) is
	// accepted only with the DPoP scheme and a valid proof of its key.
	DPoPAllowed = "allowed"
	// DPoPRequired refuses tokens that are not DPoP-bound too.
	DPoPRequired = "required"
)

// DefaultDPoPProofMaxAge is the default of providers[].dpop_proof_max_age
// and issuer.dpop_proof_max_age: how long after its iat a DPoP proof is
// accepted, plus clock_skew.
const DefaultDPoPProofMaxAge = 60 * time.Second

// maxDPoPProofMaxAge bounds dpop_proof_max_age: a proof is meant for one
// request, and the replay cache keeps every jti for that long.
const maxDPoPProofMaxAge = time.Hour

// MinDPoPNonceKeyBytes is the shortest dpop_nonce_key_file accepted.
const MinDPoPNonceKeyBytes = 32

func (p *Provider) applyDPoPDefaults() {
	setString(&p.DPoP, DPoPAllowed)
	setDuration(&p.DPoPProofMaxAge, DefaultDPoPProofMaxAge)
}

func (is *Issuer) applyDPoPDefaults() {
	setString(&is.DPoP, DPoPAllowed)
	setDuration(&is.DPoPProofMaxAge, DefaultDPoPProofMaxAge)
}

// validateDPoP checks the DPoP keys of a provider (or of the issuer) at
// path.
func validateDPoP(p *problems, path, mode string, maxAge time.Duration) {
	oneOf(p, path+".dpop", mode, DPoPAllowed, DPoPRequired)
	positive(p, path+".dpop_proof_max_age", maxAge)
	if maxAge > maxDPoPProofMaxAge {
		p.add(path+".dpop_proof_max_age", "must be at most %s: a proof is meant for one request", maxDPoPProofMaxAge)
	}
}

// DPoPNoncesUsed reports whether a provider (or the issuer) asks for DPoP
// server nonces.
func (c *Config) DPoPNoncesUsed() bool {
	if c.IssuerEnabled() && c.Issuer.DPoPNonce {
		return true
	}
	for i := range c.Providers {
		if c.Providers[i].DPoPNonce {
			return true
		}
	}
	return false
}

// validateDPoPNonces: replicas sharing a Redis store must accept each
// other's nonces, so they need one key from a file; a single replica
// makes its own at start.
func (c *Config) validateDPoPNonces(p *problems) {
	if c.DPoPNonceKeyFile == "" && c.DPoPNoncesUsed() && c.Revocation.Store == "redis" {
		p.add("dpop_nonce_key_file", "must be set when a provider sets dpop_nonce and revocation.store is redis: every replica must accept the nonces the others give out")
	}
}

// fingerprintDPoP adds the DPoP settings that differ from the defaults,
// so that the fingerprints of providers without them stay as they were.
func (p *Provider) fingerprintDPoP(f *fingerprinter) {
	if p.DPoP == DPoPAllowed && p.DPoPProofMaxAge == DefaultDPoPProofMaxAge && !p.DPoPNonce {
		return
	}
	f.str("dpop")
	f.str(p.DPoP)
	f.dur(p.DPoPProofMaxAge)
	f.flag(p.DPoPNonce)
}

// ReadDPoPNonceKey reads dpop_nonce_key_file: its bytes without
// surrounding white space, at least MinDPoPNonceKeyBytes of them.
func ReadDPoPNonceKey(path string) ([]byte, error) {
	data, msg := readable(path)
	if msg != "" {
		return nil, fmt.Errorf("%s", msg)
	}
	key := bytes.TrimSpace(data)
	if len(key) < MinDPoPNonceKeyBytes {
		return nil, fmt.Errorf("%s holds %d bytes, need at least %d (openssl rand -base64 48)", path, len(key), MinDPoPNonceKeyBytes)
	}
	return key, nil
}
