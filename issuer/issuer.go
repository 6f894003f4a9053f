package issuer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// Issuer mints access and refresh tokens, serves the token, revocation and
// discovery endpoints, and rotates refresh tokens with reuse detection. It
// is safe for concurrent use; several Issuers (replicas) may share one
// session store and one signing key.
type Issuer struct {
	keys      *Keys
	sessions  session.Store
	revoker   SessionRevoker
	opts      Options
	log       *slog.Logger
	metrics   *Metrics
	now       func() time.Time
	audience  any // the "aud" of access tokens: a string when there is one
	exchange  map[string]bool
	discovery []byte
	own       *ownVerifier
	dpopURIs  dpopEndpoints
}

// New returns an Issuer signing with keys, keeping sessions in sessions and
// recording session revocations (refresh token reuse, RFC 7009 revocation)
// through revoker. Every argument is required: without a revoker, a detected
// reuse could not stop the session's access tokens.
func New(keys *Keys, sessions session.Store, revoker SessionRevoker, opts Options) (*Issuer, error) {
	if keys == nil || sessions == nil || revoker == nil {
		return nil, errors.New("issuer: keys, session store and session revoker are required")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Algorithm != "" && opts.Algorithm != keys.Algorithm() {
		return nil, fmt.Errorf("issuer: algorithm %s does not match the signing key (%s)", opts.Algorithm, keys.Algorithm())
	}
	i := &Issuer{
		keys:     keys,
		sessions: sessions,
		revoker:  revoker,
		opts:     opts,
		log:      opts.Logger,
		metrics:  opts.Metrics,
		now:      opts.Clock,
		exchange: make(map[string]bool, len(opts.ExchangeProviders)),
	}
	if len(opts.Audiences) == 1 {
		i.audience = opts.Audiences[0]
	} else {
		i.audience = append([]string(nil), opts.Audiences...)
	}
	for _, p := range opts.ExchangeProviders {
		i.exchange[p] = true
	}
	if i.own, err = newOwnVerifier(keys, opts); err != nil {
		return nil, err
	}
	if i.dpopURIs, err = newDPoPEndpoints(opts.Issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if i.discovery, err = i.buildDiscovery(); err != nil {
		return nil, err
	}
	i.log.Info("token issuer ready",
		"issuer", opts.Issuer, "alg", keys.Algorithm(), "kid", keys.SigningKeyID(),
		"published_keys", len(keys.public), "signing_key_file", opts.SigningKeyFile,
		"previous_key_files", opts.PreviousKeyFiles, "exchange_providers", opts.ExchangeProviders)
	return i, nil
}

// Keys returns the issuer's keys (for the built-in "self" provider).
func (i *Issuer) Keys() *Keys { return i.keys }

// IssuerURL returns the "iss" of minted tokens.
func (i *Issuer) IssuerURL() string { return i.opts.Issuer }
