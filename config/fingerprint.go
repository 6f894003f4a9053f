package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"strconv"
	"time"
)

// ProviderFingerprint returns a stable hash (64 hex digits) of every setting
// of p, so that a reload can tell which providers changed and drop only their
// cached verdicts and key sets. Settings that mean the same thing hash the
// same: an unset require_exp or keep_authorization and an explicit true, the
// order of audiences and algorithms, an unset algorithms list and the default
// one. The hash does not depend on the Go version or on map order.
func ProviderFingerprint(p Provider) string {
	p.applyDefaults()
	h := sha256.New()
	f := fingerprinter{h: h}
	f.str("v1")
	f.str(p.Name)
	f.str(p.Issuer)
	f.list(p.Audiences)
	f.str(p.JWKSURI)
	f.flag(p.Discovery)
	f.str(p.JWKSFile)
	f.list(p.Algorithms)
	f.dur(p.ClockSkew)
	f.flag(p.RequireExpOrDefault())
	f.dur(p.MaxLifetime)
	f.str(p.Typ)
	f.dur(p.JWKSRefreshInterval)
	f.dur(p.JWKSMinRefreshInterval)
	f.dur(p.JWKSMaxStale)
	f.flag(p.AllowHTTP)
	f.str(strconv.Itoa(len(p.ForwardClaims)))
	for _, claim := range slices.Sorted(maps.Keys(p.ForwardClaims)) {
		f.str(claim)
		f.str(p.ForwardClaims[claim])
	}
	f.str(p.ForwardPayloadHeader)
	f.flag(p.KeepAuthorizationOrDefault())
	if p.MTLSBound != MTLSBoundAllowed {
		// Only when set, so that the fingerprints of providers without
		// it stay as they were.
		f.str(p.MTLSBound)
	}
	p.fingerprintDPoP(&f)
	return hex.EncodeToString(h.Sum(nil))
}

// fingerprinter writes values length-prefixed, so that no two different
// sequences of fields produce the same byte stream.
type fingerprinter struct {
	h   hash.Hash
	buf [8]byte
}

func (f *fingerprinter) str(s string) {
	binary.BigEndian.PutUint64(f.buf[:], uint64(len(s)))
	f.h.Write(f.buf[:])
	f.h.Write([]byte(s))
}

func (f *fingerprinter) list(items []string) {
	sorted := slices.Sorted(slices.Values(items))
	f.str(strconv.Itoa(len(sorted)))
	for _, s := range sorted {
		f.str(s)
	}
}

func (f *fingerprinter) dur(d time.Duration) {
	f.str(strconv.FormatInt(int64(d), 10))
}

func (f *fingerprinter) flag(b bool) {
	f.str(strconv.FormatBool(b))
}
