package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/token"
)

// keySource is what a provider's keys come from: a fetched JWKS or the
// built-in issuer's own keys.
type keySource interface {
	token.KeySource
	Ready() bool
	Status() jwks.Status
}

// providerEntry is one provider as built from config. Entries are reused
// across reloads while the provider's settings are unchanged, so its JWKS
// is not refetched and tokens it verified stay cached.
type providerEntry struct {
	fingerprint string
	// sourceFingerprint identifies the settings of fetched's JWKS source.
	sourceFingerprint string
	source            keySource
	fetched           *jwks.Source // nil for the built-in issuer
	authz             *extauthz.Provider
}

// providerSet builds and keeps providers across reloads.
type providerSet struct {
	mu      sync.Mutex
	log     *slog.Logger
	metrics *jwks.Metrics
	self    *jwks.Static // nil when the issuer is disabled
	entries map[string]*providerEntry
	ctx     context.Context
	// onChange is called after every JWKS fetch, for readiness.
	onChange func()
	// tracer records JWKS fetches; nil when tracing is off.
	tracer trace.Tracer
	// selfRules returns the rules of the built-in issuer's access tokens;
	// nil when the issuer is disabled.
	selfRules func(name string) *token.Provider
	// onRemove is called with the name of each provider a reload removes,
	// once its JWKS series are deleted, for the series others keep.
	onRemove func(provider string)
	// replay and nonceKey serve the providers' DPoP proof checks.
	replay   dpop.ReplayCache
	nonceKey []byte
}

func newProviderSet(ctx context.Context, log *slog.Logger, m *jwks.Metrics, self *jwks.Static) *providerSet {
	return &providerSet{ctx: ctx, log: log, metrics: m, self: self, entries: map[string]*providerEntry{}}
}

// build returns the providers of cfg in a stable order, reusing unchanged
// ones and starting the JWKS refresh of new ones. The caller must call
// finish exactly once: finish(true) once the new policy is installed stops
// the sources no longer used and forgets the series of removed providers;
// finish(false) abandons the build, stopping what it started and
// forgetting the series it created.
func (ps *providerSet) build(cfg *config.Config) (entries []*providerEntry, finish func(apply bool), err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	next := map[string]*providerEntry{}
	var started []*jwks.Source
	fail := func(err error) ([]*providerEntry, func(bool), error) {
		for _, s := range started {
			s.Stop()
		}
		ps.forgetNew(next)
		return nil, nil, err
	}
	for i := range cfg.Providers {
		p := cfg.Providers[i]
		fp := config.ProviderFingerprint(p)
		old, had := ps.entries[p.Name]
		if had && old.fingerprint == fp {
			next[p.Name] = old
			continue
		}
		sfp := sourceFingerprint(p)
		src := old.fetchedIfSource(had, sfp)
		if src == nil {
			var err error
			src, err = jwks.New(jwks.Options{
				Provider:           p.Name,
				Issuer:             p.Issuer,
				JWKSURI:            p.JWKSURI,
				Discovery:          p.Discovery,
				File:               p.JWKSFile,
				RefreshInterval:    p.JWKSRefreshInterval,
				MinRefreshInterval: p.JWKSMinRefreshInterval,
				MaxStale:           maxStale(p),
				AllowHTTP:          p.AllowHTTP,
				Logger:             ps.log,
				Metrics:            ps.metrics,
				OnChange:           ps.onChange,
				Tracer:             ps.tracer,
			})
			if err != nil {
				return fail(fmt.Errorf("provider %s: %w", p.Name, err))
			}
			src.Start(ps.ctx)
			started = append(started, src)
		}
		entry := newProviderEntry(p, fp, sfp, src)
		err = ps.setDPoP(entry.authz, dpopSettings{name: p.Name, algorithms: p.Algorithms, mode: p.DPoP,
			maxAge: p.DPoPProofMaxAge, skew: p.ClockSkew, nonce: p.DPoPNonce})
		if err != nil {
			return fail(err)
		}
		next[p.Name] = entry
	}
	if cfg.IssuerEnabled() && ps.self != nil && ps.selfRules != nil {
		fp := selfFingerprint(cfg)
		if old, ok := ps.entries[config.SelfProvider]; ok && old.fingerprint == fp {
			next[config.SelfProvider] = old
		} else {
			entry := &providerEntry{
				fingerprint: fp,
				source:      ps.self,
				authz: &extauthz.Provider{
					Token:                ps.selfRules(config.SelfProvider),
					ForwardClaims:        cfg.Issuer.ForwardClaims,
					ForwardPayloadHeader: cfg.Issuer.ForwardPayloadHeader,
					KeepAuthorization:    cfg.Issuer.KeepAuthorizationOrDefault(),
				},
			}
			if err := ps.setDPoP(entry.authz, selfDPoP(cfg, entry.authz.Token.ClockSkew)); err != nil {
				return fail(err)
			}
			next[config.SelfProvider] = entry
		}
	}
	names := make([]string, 0, len(next))
	for n := range next {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*providerEntry, 0, len(names))
	for _, n := range names {
		out = append(out, next[n])
	}
	commit := func(apply bool) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if !apply {
			for _, s := range started {
				s.Stop()
			}
			ps.forgetNew(next)
			return
		}
		for name, old := range ps.entries {
			if cur, ok := next[name]; !ok || cur != old {
				if old.fetched != nil && (!ok || cur.fetched != old.fetched) {
					old.fetched.Stop()
				}
				if _, still := next[name]; !still {
					ps.metrics.Forget(name)
					if ps.onRemove != nil {
						ps.onRemove(name)
					}
				}
			}
		}
		ps.entries = next
	}
	return out, commit, nil
}

// fetchedIfSource returns the JWKS source of e (an entry that exists when
// had) when its settings are those of sfp: a reload that changes only the
// provider's rules keeps the source and the keys it holds, so the
// provider's tokens never wait for a first fetch, nor fail while the
// endpoint is down. Otherwise nil.
func (e *providerEntry) fetchedIfSource(had bool, sfp string) *jwks.Source {
	if !had || e.fetched == nil || e.sourceFingerprint != sfp {
		return nil
	}
	return e.fetched
}

// newProviderEntry builds provider p's rules over the JWKS source src.
func newProviderEntry(p config.Provider, fp, sfp string, src *jwks.Source) *providerEntry {
	return &providerEntry{
		fingerprint:       fp,
		sourceFingerprint: sfp,
		source:            src,
		fetched:           src,
		authz: &extauthz.Provider{
			Token: &token.Provider{
				Name:        p.Name,
				Issuer:      p.Issuer,
				Audiences:   p.Audiences,
				Algorithms:  p.Algorithms,
				ClockSkew:   p.ClockSkew,
				RequireExp:  p.RequireExpOrDefault(),
				MaxLifetime: p.MaxLifetime,
				Typ:         p.Typ,
				Keys:        src,
			},
			ForwardClaims:        p.ForwardClaims,
			ForwardPayloadHeader: p.ForwardPayloadHeader,
			KeepAuthorization:    p.KeepAuthorizationOrDefault(),
			MTLSBound:            mtlsBinding(p.MTLSBound),
		},
	}
}

// sourceFingerprint identifies the settings that make a provider's JWKS
// source: those of jwks.Options. A reload that changes none of them keeps
// the source.
func sourceFingerprint(p config.Provider) string {
	return fmt.Sprintf("%q %q %t %q %s %s %s %t", p.Issuer, p.JWKSURI, p.Discovery, p.JWKSFile,
		p.JWKSRefreshInterval, p.JWKSMinRefreshInterval, maxStale(p), p.AllowHTTP)
}

// selfFingerprint identifies the settings of the built-in issuer's
// provider: a change of any makes a new provider, whose cached tokens are
// not those of the old one.
func selfFingerprint(cfg *config.Config) string {
	is := cfg.Issuer
	return config.ProviderFingerprint(config.Provider{
		Name:                 config.SelfProvider,
		Issuer:               is.Issuer,
		Audiences:            is.Audiences,
		Algorithms:           []string{is.Algorithm},
		ForwardClaims:        is.ForwardClaims,
		ForwardPayloadHeader: is.ForwardPayloadHeader,
		KeepAuthorization:    &[]bool{is.KeepAuthorizationOrDefault()}[0],
		DPoP:                 is.DPoP,
		DPoPProofMaxAge:      is.DPoPProofMaxAge,
		DPoPNonce:            is.DPoPNonce,
	})
}

// forgetNew deletes the series that building next created for providers
// not in force, once that build is abandoned. The caller holds ps.mu.
func (ps *providerSet) forgetNew(next map[string]*providerEntry) {
	for name := range next {
		if _, ok := ps.entries[name]; !ok {
			ps.metrics.Forget(name)
		}
	}
}

// current returns the providers in force, sorted by name.
func (ps *providerSet) current() []*providerEntry {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	names := make([]string, 0, len(ps.entries))
	for n := range ps.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*providerEntry, 0, len(names))
	for _, n := range names {
		out = append(out, ps.entries[n])
	}
	return out
}

// stopAll stops every JWKS refresh.
func (ps *providerSet) stopAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, e := range ps.entries {
		if e.fetched != nil {
			e.fetched.Stop()
		}
	}
}

// providerStatus is one provider in GET /admin/providers and the refresh
// answer.
type providerStatus struct {
	Name        string       `json:"name"`
	Source      string       `json:"source"`
	KeyIDs      []string     `json:"key_ids"`
	SkippedKeys []skippedKey `json:"skipped_keys"`
	Ready       bool         `json:"ready"`
	LastFetch   time.Time    `json:"last_fetch,omitzero"`
	LastSuccess time.Time    `json:"last_success,omitzero"`
	LastError   string       `json:"last_error,omitempty"`
	NextRefresh time.Time    `json:"next_refresh,omitzero"`
}

// skippedKey is a key of the provider's JWKS that is not used, and why.
type skippedKey struct {
	KID    string `json:"kid"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

func statusOf(e *providerEntry) providerStatus {
	st := e.source.Status()
	ids := st.KeyIDs
	if ids == nil {
		ids = []string{}
	}
	skipped := make([]skippedKey, 0, len(st.SkippedKeys))
	for _, k := range st.SkippedKeys {
		skipped = append(skipped, skippedKey{KID: k.KID, Reason: k.Reason, Detail: k.Detail})
	}
	return providerStatus{
		Name: e.authz.Name(), Source: st.Location, KeyIDs: ids, SkippedKeys: skipped, Ready: e.source.Ready(),
		LastFetch: st.LastFetch, LastSuccess: st.LastSuccess, LastError: st.LastError, NextRefresh: st.NextRefresh,
	}
}

// maxStale maps jwks_max_stale to the JWKS source: 0 ("never serve stale
// keys") becomes the refresh interval, the least the source can do.
func maxStale(p config.Provider) time.Duration {
	if p.JWKSMaxStale == 0 {
		return p.JWKSRefreshInterval
	}
	return p.JWKSMaxStale
}

// mtlsBinding maps providers[].mtls_bound to its extauthz form.
func mtlsBinding(v string) extauthz.MTLSBinding {
	if v == config.MTLSBoundRequired {
		return extauthz.MTLSRequired
	}
	return extauthz.MTLSAllowed
}
