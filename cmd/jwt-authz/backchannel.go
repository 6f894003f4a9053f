package main

import (
	"context"
	"time"

	"github.com/jwt-authz/jwt-authz/backchannel"
	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/ratelimit"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// buildLogout builds the back-channel logout handler of http_addr. It
// reads the verifier and the configuration on every request, so a reload
// that enables a provider or changes its audience applies at once.
func (a *app) buildLogout(cfg *config.Config) {
	a.logoutLimit = newLogoutRateLimit(cfg, a.rateLimitM)
	a.logoutM = backchannel.NewMetrics(a.reg)
	a.initLogoutMetrics(cfg)
	a.logout = backchannel.NewHandler(backchannel.Options{
		Verifier: func() backchannel.Verifier { return a.verifier.Load() },
		Settings: a.logoutSettings,
		Replay:   a.st.replay,
		Revoker:  logoutRevoker{a},
		Metrics:  a.logoutM,
		Logger:   a.log,
	})
}

// initLogoutMetrics creates the outcome series of every provider with
// back-channel logout enabled.
func (a *app) initLogoutMetrics(cfg *config.Config) {
	for _, p := range cfg.Providers {
		if p.BackchannelLogout.Enabled {
			a.logoutM.Init(p.Name)
		}
	}
}

func (a *app) logoutSettings(name string) (backchannel.Settings, bool) {
	for _, p := range a.cfg.Load().Providers {
		if p.Name == name {
			return backchannel.Settings{
				Enabled:   p.BackchannelLogout.Enabled,
				Audience:  p.BackchannelLogout.Audience,
				ClockSkew: p.ClockSkew,
			}, true
		}
	}
	return backchannel.Settings{}, false
}

// logoutRevoker records an accepted logout token in the revocation store,
// which announces it to every replica.
type logoutRevoker struct{ a *app }

// Revoke revokes the provider's session sid, or, without a sid, the
// provider's tokens of the subject issued at or before the logout. The
// entry is derived from the logout token alone (its expiry counts from
// the token's iat), so recording it again for a retried token is the same
// entry and changes nothing.
func (r logoutRevoker) Revoke(ctx context.Context, l backchannel.Logout) error {
	ttl := r.a.cfg.Load().Issuer.RefreshTokenTTL
	exp := time.Unix(l.IssuedAt, 0).Add(ttl).Unix()
	if now := time.Now(); exp <= now.Unix() {
		exp = now.Add(ttl).Unix()
	}
	e := revocation.Entry{Kind: revocation.KindSID, Provider: l.Provider, Value: l.SID, ExpiresAt: exp}
	if l.SID == "" {
		e = revocation.Entry{Kind: revocation.KindSub, Provider: l.Provider, Value: l.Subject, Before: l.IssuedAt, ExpiresAt: exp}
	}
	return r.a.rev.Revoke(ctx, e)
}

// newLogoutRateLimit builds the limits of backchannel_logout_rate_limit:
// per client address and for all clients together.
func newLogoutRateLimit(cfg *config.Config, m *ratelimit.Metrics) ratelimit.HTTP {
	rl := cfg.BackchannelLogoutRateLimit
	return ratelimit.HTTP{
		Limiter: ratelimit.New(ratelimit.Options{
			RequestsPerSecond: float64(rl.PerClient()),
			Burst:             rl.Burst,
			MaxClients:        rl.MaxClients,
			TotalPerSecond:    float64(rl.Total()),
			TotalBurst:        rl.TotalBurst,
		}),
		ClientIPHeader: rl.ClientIPHeader,
		Metrics:        m,
	}
}
