package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jwt-authz/jwt-authz/backchannel"
	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/health"
	"github.com/jwt-authz/jwt-authz/issuer"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/ratelimit"
	"github.com/jwt-authz/jwt-authz/revocation"
	revbolt "github.com/jwt-authz/jwt-authz/revocation/bolt"
	"github.com/jwt-authz/jwt-authz/session"
	"github.com/jwt-authz/jwt-authz/token"
	"github.com/jwt-authz/jwt-authz/tracing"
)

// app is one running jwt-authz: its components and the policy in force.
type app struct {
	cfgPath string
	lookup  func(string) (string, bool)
	log     *slog.Logger
	reg     *prometheus.Registry

	cfg        atomic.Pointer[config.Config]
	verifier   atomic.Pointer[token.Verifier]
	adminToken atomic.Pointer[[]byte]

	st        *stores
	rev       *revocation.Service
	iss       *issuer.Issuer // nil when the built-in issuer is disabled
	self      *jwks.Static
	selfRules func(name string) *token.Provider
	providers *providerSet
	authz     *extauthz.Server
	authzM    *extauthz.Metrics
	decisions *decisionLog      // nil when decision_log is off
	tracing   *tracing.Provider // nil when tracing is off
	logout    *backchannel.Handler
	logoutM   *backchannel.Metrics
	health    *health.Checker
	reloads   *prometheus.CounterVec
	rateLimit ratelimit.HTTP // the token endpoints' limit per client
	nonceKey  []byte         // DPoP server nonces' key, for the life of the process

	rateLimitM  *ratelimit.Metrics // shared by every rate-limited endpoint
	logoutLimit ratelimit.HTTP     // the back-channel logout endpoint's limits

	reloadMu sync.Mutex
	bgWG     sync.WaitGroup
}

// newApp builds every component in dependency order: metrics registry,
// stores, revocation, issuer keys, providers, policy, Check server. On
// error, whatever was built is closed.
func newApp(ctx context.Context, cfg *config.Config, cfgPath string, lookup func(string) (string, bool), log *slog.Logger) (_ *app, err error) {
	a := &app{cfgPath: cfgPath, lookup: lookup, log: log, reg: prometheus.NewRegistry(), health: newHealth()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.cfg.Store(cfg)
	a.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwt_authz_config_reload_total",
		Help: "Configuration reloads by result (success, error).",
	}, []string{"result"})
	a.reg.MustRegister(a.reloads)
	a.rateLimitM = ratelimit.NewMetrics(a.reg)
	a.rateLimit = newTokenRateLimit(cfg, a.rateLimitM)
	a.reloads.WithLabelValues("success")
	a.reloads.WithLabelValues("error")

	if err := a.loadAdminToken(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err) // the error names the path
	}
	if a.tracing, err = startTracing(ctx, cfg, lookup, log); err != nil {
		return nil, err
	}
	if a.st, err = openStores(cfg, log, a.tracing, a.reg); err != nil {
		return nil, err
	}
	a.rev, err = revocation.NewService(a.st.revStore, revocation.Options{
		MaxStaleness: cfg.Revocation.MaxStaleness,
		SyncInterval: cfg.Revocation.SyncInterval,
		Logger:       log,
		Metrics:      revocation.NewMetrics(a.reg),
		OnChange:     a.health.Notify,
	})
	if err != nil {
		return nil, fmt.Errorf("revocation store: %w", err)
	}
	a.health.Set(readinessStore, health.Component{Probe: a.rev.Readiness})

	if a.nonceKey, err = dpopNonceKey(cfg); err != nil {
		return nil, err
	}
	if cfg.IssuerEnabled() {
		if err := a.buildIssuer(cfg); err != nil {
			return nil, err
		}
	}
	a.providers = newProviderSet(ctx, log, jwks.NewMetrics(a.reg), a.self)
	a.providers.selfRules = a.selfRules
	a.providers.replay, a.providers.nonceKey = a.st.replay, a.nonceKey
	a.providers.onChange = a.health.Notify
	a.providers.tracer = ownTracer(a.tracing)

	a.authzM = extauthz.NewMetrics(a.reg)
	a.providers.onRemove = func(name string) {
		a.authzM.Forget(name)
		if a.logoutM != nil {
			a.logoutM.Forget(name)
		}
	}
	entries, commit, err := a.providers.build(cfg)
	if err != nil {
		return nil, err
	}
	pol, v, err := buildPolicy(cfg, entries, a.authzM)
	if err != nil {
		commit(false)
		return nil, err
	}
	commit(true)
	a.setProviderReadiness(cfg)
	a.verifier.Store(v)
	if a.decisions, err = openDecisionLog(cfg, a.authzM, log); err != nil {
		return nil, err
	}
	a.authz, err = extauthz.NewServer(pol, extauthz.Options{
		Revocation:   a.rev.Index(),
		CacheEntries: cfg.TokenCacheEntries(),
		Metrics:      a.authzM,
		Logger:       log,
		DecisionLog:  a.decisions.server(),
		Tracer:       checkTracer(a.tracing),
	})
	if err != nil {
		return nil, err
	}
	a.buildLogout(cfg)
	return a, nil
}

func (a *app) buildIssuer(cfg *config.Config) error {
	keys, err := issuer.LoadKeys(cfg.SigningKeyPath(), cfg.Issuer.PreviousKeyFiles, cfg.Issuer.Algorithm)
	if err != nil {
		return fmt.Errorf("issuer signing key: %w", err)
	}
	im, err := issuer.NewMetrics(a.reg)
	if err != nil {
		return err
	}
	// The token endpoint's proofs follow the issuer's DPoP keys as they
	// are at start.
	proofs, err := newDPoPChecker(selfDPoP(cfg, issuer.ClockSkew), a.st.replay, a.nonceKey)
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	a.iss, err = issuer.New(keys, a.st.sessions, sessionRevoker{a}, issuer.Options{
		Revocations:        revocationChecker{a.rev.Index()},
		Issuer:             cfg.Issuer.Issuer,
		Audiences:          cfg.Issuer.Audiences,
		Algorithm:          cfg.Issuer.Algorithm,
		SigningKeyFile:     cfg.SigningKeyPath(),
		PreviousKeyFiles:   cfg.Issuer.PreviousKeyFiles,
		AccessTokenTTL:     cfg.Issuer.AccessTokenTTL,
		RefreshTokenTTL:    cfg.Issuer.RefreshTokenTTL,
		RefreshReuseGrace:  cfg.Issuer.RefreshReuseGrace,
		SessionMaxLifetime: cfg.Issuer.SessionMaxLifetime,
		ExchangeProviders:  cfg.Issuer.ExchangeProviders,
		ExchangeClaims:     cfg.Issuer.ExchangeClaims,
		Metrics:            im,
		Logger:             a.log,
		DPoP:               proofs,
	})
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	// Check verifies the issuer's tokens with the issuer's own keys and
	// rules: one path for both.
	a.self = a.iss.KeySource()
	a.selfRules = a.iss.AccessTokenProvider
	a.log.Info("built-in issuer ready", "issuer", cfg.Issuer.Issuer, "alg", keys.Algorithm(), "kid", keys.PublicKeys()[0].KID)
	return nil
}

// loadAdminToken reads admin_token_file; an empty setting disables admin
// authentication (the admin listener must then stay private).
func (a *app) loadAdminToken(cfg *config.Config) error {
	if cfg.AdminTokenFile == "" {
		a.adminToken.Store(nil)
		return nil
	}
	b, err := os.ReadFile(cfg.AdminTokenFile)
	if err != nil {
		return fmt.Errorf("admin_token_file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 16 {
		return fmt.Errorf("admin_token_file: the token must be at least 16 bytes")
	}
	a.adminToken.Store(&b)
	return nil
}

// run starts the background work: JWKS refresh is already running; this
// adds the revocation sync and config watching. Readiness needs no
// background work: components report their changes to it.
func (a *app) runBackground(ctx context.Context) {
	a.bgWG.Add(1)
	go func() { defer a.bgWG.Done(); a.rev.Run(ctx) }()
	if sw, ok := a.st.sessions.(session.Sweeper); ok {
		// Redis expires sessions by itself; bolt and memory are swept.
		a.bgWG.Add(1)
		go func() { defer a.bgWG.Done(); session.SweepEvery(ctx, sw, time.Minute, time.Now, a.log) }()
	}
	if a.cfgPath != "" {
		// SIGHUP is caught before anything serves: a signal sent once the
		// listeners answer reloads, never terminates the process.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		a.bgWG.Add(1)
		go func() { defer a.bgWG.Done(); defer signal.Stop(hup); a.watchConfig(ctx, hup, 2*time.Second) }()
	}
	if a.st.db != nil {
		// The revocation index was loaded from the file; its pages, and
		// those later writes touch, need not stay resident.
		a.bgWG.Add(1)
		go func() {
			defer a.bgWG.Done()
			revbolt.ReleaseMappedEvery(ctx, a.st.db, releaseMappedInterval, func(err error) {
				a.log.Warn("release mapped database pages", "err", err)
			})
		}()
	}
}

// releaseMappedInterval is how often the bolt file's mapped pages are
// released after writes.
const releaseMappedInterval = 10 * time.Second

// close releases everything in reverse order of construction.
func (a *app) close() {
	a.decisions.close()
	if a.providers != nil {
		a.providers.stopAll()
	}
	a.bgWG.Wait()
	a.health.Close()
	if a.rev != nil {
		_ = a.rev.Close()
	}
	if a.st != nil {
		a.st.close()
	}
	// Last: the spans of everything above are sent.
	stopTracing(a.tracing, a.log)
}

// sessionRevoker records a whole session's revocation for the issuer.
type sessionRevoker struct{ a *app }

func (s sessionRevoker) RevokeSession(ctx context.Context, sid string) error {
	cfg := s.a.cfg.Load()
	now := time.Now()
	if _, ok := revocation.ActorFrom(ctx); !ok {
		ctx = revocation.WithActor(ctx, revocation.Actor{Name: "issuer"})
	}
	return s.a.rev.Revoke(ctx, revocation.Entry{
		Kind:      revocation.KindSID,
		Value:     sid,
		ExpiresAt: now.Add(cfg.Issuer.RefreshTokenTTL).Unix(),
		CreatedAt: now.UnixMilli(),
	})
}

// validateToken is Check's decision outside Check: signature, claims and
// revocation, for token exchange and introspection.
func (a *app) validateToken(ctx context.Context, raw string) (token.Result, error) {
	res, err := a.verifier.Load().Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, token.ErrKeysUnavailable) {
			return res, fmt.Errorf("%w: %w", issuer.ErrTemporarilyUnavailable, err)
		}
		return res, err
	}
	c := res.Claims
	if err := a.rev.Index().Check(res.Provider.Name, c.ID, c.SessionID, c.Subject, c.IssuedAt); err != nil {
		if errors.Is(err, revocation.ErrUnavailable) {
			return res, fmt.Errorf("%w: %w", issuer.ErrTemporarilyUnavailable, err)
		}
		return res, err
	}
	return res, nil
}

// ValidateExchange implements issuer.ExchangeValidator.
func (a *app) ValidateExchange(ctx context.Context, raw string) (string, map[string]any, error) {
	res, err := a.validateToken(ctx, raw)
	if err != nil {
		return "", nil, err
	}
	claims, err := res.Claims.Decode()
	if err != nil {
		return "", nil, err
	}
	return res.Provider.Name, claims, nil
}

// Introspect implements issuer.Introspector.
func (a *app) Introspect(ctx context.Context, raw string) (map[string]any, error) {
	res, err := a.validateToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	return res.Claims.Decode()
}

// Inspect verifies only the signature of a token to be revoked: a leaked
// token is revoked even when it has expired or fails other checks.
func (a *app) Inspect(ctx context.Context, raw string) (string, int64, error) {
	res, err := a.verifier.Load().VerifySignature(ctx, raw)
	if err != nil {
		return "", 0, err
	}
	if res.Claims.ID == "" {
		return "", 0, errors.New("token has no jti")
	}
	return res.Claims.ID, res.Claims.Expiry, nil
}

// revocationChecker answers the issuer from the revocation index that
// Check reads. The issuer asks about its own refresh tokens, which belong
// to the "self" provider.
type revocationChecker struct{ ix *revocation.Index }

func (c revocationChecker) Revoked(jti, sid, sub string, iat int64) (bool, error) {
	switch err := c.ix.Check(config.SelfProvider, jti, sid, sub, iat); {
	case err == nil:
		return false, nil
	case errors.Is(err, revocation.ErrRevoked):
		return true, nil
	default:
		return false, err
	}
}
