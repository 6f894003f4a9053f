package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jwt-authz/jwt-authz/backchannel"
	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/health"
	"github.com/jwt-authz/jwt-authz/issuer"
	"github.com/jwt-authz/jwt-authz/ratelimit"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
)

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 64 << 10

// writeJSON answers with a JSON document.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// requireAdminToken serves h on the public listener only to callers with
// the admin bearer token; without admin_token_file the endpoint is
// refused.
func (a *app) requireAdminToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := a.adminToken.Load()
		if want == nil {
			writeError(w, http.StatusForbidden, "access_denied", "this endpoint needs admin_token_file to be configured")
			return
		}
		if !validAdminToken(r, *want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jwt-authz-admin"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "admin token required")
			return
		}
		ctx := revocation.WithActor(r.Context(), revocation.Actor{Name: "admin_token", RemoteAddr: r.RemoteAddr})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func bearerToken(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(v[len(scheme):]), true
}

// adminMux serves the admin listener: /metrics, /admin/*, introspection,
// Go profiles and health, all behind adminGuard (which leaves GET /metrics
// open when a token is configured).
// metricsMux is the handler of metrics_addr: GET /metrics and nothing
// else, so a scraper given this port reaches no admin endpoint.
func (a *app) metricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "this listener serves only GET /metrics")
	}))
	return mux
}

func (a *app) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	cfg := a.cfg.Load()
	revAPI := adminapi.New(a.rev, a, a.log, adminapi.WithSessionTTL(cfg.Issuer.RefreshTokenTTL), adminapi.WithJTISkew(maxClockSkew(cfg)),
		adminapi.WithKnownProviders(a.knownProvider))
	mux.Handle("/admin/revocations", revAPI)
	mux.Handle("/admin/revocations/", revAPI)
	mux.Handle("POST /admin/tokens", http.HandlerFunc(a.handleMint))
	mux.Handle("POST /admin/jwks/refresh", http.HandlerFunc(a.handleJWKSRefresh))
	mux.Handle("GET /admin/providers", http.HandlerFunc(a.handleProviders))
	// Profiles for performance work, at the usual path and under /admin.
	mux.Handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	mux.Handle("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	mux.Handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	mux.Handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	mux.Handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	mux.Handle("GET /admin/debug/pprof/", http.StripPrefix("/admin", http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /admin/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
	}))
	if a.iss != nil {
		mux.Handle("POST /oauth2/introspect", issuer.IntrospectHandler(a))
	}
	mux.Handle("GET /healthz", health.Healthz())
	mux.Handle("GET /readyz", a.health.Readyz())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}))
	return a.adminGuard(mux)
}

// httpMux serves the public listener: token endpoint, discovery, forward
// auth and health. The forward-auth endpoints are routed on the raw
// request target before the ServeMux, which would answer a path with dot
// segments or doubled slashes with a redirect to a cleaned one instead of
// the decision on the path as the proxy sent it.
func (a *app) httpMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health.Healthz())
	mux.Handle("GET /readyz", a.health.Readyz())
	forward := a.authz.ForwardAuthHandler()
	// Every method reaches the handler, which answers 405 in JSON. Each
	// request costs a signature check: the limits come first.
	mux.Handle(backchannel.Path, a.logoutLimit.Wrap("backchannel_logout", a.logout))
	if a.iss != nil {
		// The token endpoints are limited per client before anything
		// else, the admin token check and the stores included.
		limit := a.rateLimit.Wrap
		token := a.iss.TokenHandler(a)
		mux.Handle("/oauth2/token", limit("token", token))
		mux.Handle("/token/refresh", limit("refresh", token))
		mux.Handle("/oauth2/revoke", limit("revoke", a.iss.RevokeHandler()))
		mux.Handle("/oauth2/introspect", limit("introspect", a.requireAdminToken(issuer.IntrospectHandler(a))))
		mux.Handle("/.well-known/jwks.json", a.iss.JWKSHandler())
		mux.Handle("/.well-known/openid-configuration", a.iss.DiscoveryHandler())
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if extauthz.IsForwardAuthTarget(r.RequestURI) {
			forward.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// mintRequest is the body of POST /admin/tokens.
type mintRequest struct {
	Sub    string         `json:"sub"`
	Scope  string         `json:"scope"`
	Claims map[string]any `json:"claims"`
}

func (a *app) handleMint(w http.ResponseWriter, r *http.Request) {
	if a.iss == nil {
		writeError(w, http.StatusNotFound, "not_found", "the built-in issuer is disabled")
		return
	}
	var req mintRequest
	if status, err := decodeJSONBody(w, r, &req); err != nil {
		writeError(w, status, "invalid_request", err.Error())
		return
	}
	if req.Sub == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "sub is required")
		return
	}
	resp, err := a.iss.Mint(r.Context(), issuer.MintRequest{Subject: req.Sub, Scope: req.Scope, Claims: req.Claims, ClientAddr: r.RemoteAddr})
	switch {
	case errors.Is(err, issuer.ErrInvalidRequest):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	case errors.Is(err, issuer.ErrTemporarilyUnavailable):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "session store unavailable")
		return
	case err != nil:
		a.log.Error("mint tokens", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "could not mint tokens")
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// decodeJSONBody reads one JSON object, strictly, within maxAdminBody. The
// body must be declared application/json: no HTML form can send that.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	if !isJSON(r.Header.Get("Content-Type")) {
		return http.StatusUnsupportedMediaType, errors.New("content type must be application/json")
	}
	body := http.MaxBytesReader(w, r.Body, maxAdminBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, errors.New("body too large")
		}
		return http.StatusBadRequest, errors.New("body must be a JSON object with known fields")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return http.StatusBadRequest, errors.New("body must hold exactly one JSON object")
	}
	return 0, nil
}

func (a *app) handleProviders(w http.ResponseWriter, _ *http.Request) {
	out := []providerStatus{}
	for _, e := range a.providers.current() {
		out = append(out, statusOf(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

func (a *app) handleJWKSRefresh(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("provider")
	type result struct {
		providerStatus
		Error string `json:"error,omitempty"`
	}
	out := []result{}
	found := false
	for _, e := range a.providers.current() {
		if only != "" && e.authz.Name() != only {
			continue
		}
		found = true
		var errText string
		if e.fetched != nil {
			if err := e.fetched.Refresh(r.Context()); err != nil {
				errText = err.Error()
			}
		}
		out = append(out, result{providerStatus: statusOf(e), Error: errText})
	}
	if only != "" && !found {
		writeError(w, http.StatusNotFound, "not_found", "no provider named "+only)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

// knownProvider reports whether name is a provider of the current
// configuration: one of providers[], or "self" while the built-in issuer
// runs.
func (a *app) knownProvider(name string) bool {
	cfg := a.cfg.Load()
	for _, p := range cfg.Providers {
		if p.Name == name {
			return true
		}
	}
	return name == config.SelfProvider && cfg.IssuerEnabled()
}

// maxClockSkew is the largest skew any provider allows: a revoked jti must
// outlive every acceptance window of its token.
func maxClockSkew(cfg *config.Config) time.Duration {
	skew := selfClockSkew
	for _, p := range cfg.Providers {
		skew = max(skew, p.ClockSkew)
	}
	return skew
}

// newTokenRateLimit builds the limit of token_endpoint_rate_limit.
func newTokenRateLimit(cfg *config.Config, m *ratelimit.Metrics) ratelimit.HTTP {
	rl := cfg.TokenEndpointRateLimit
	return ratelimit.HTTP{
		Limiter: ratelimit.New(ratelimit.Options{
			RequestsPerSecond: float64(rl.RateLimitPerSecond()),
			Burst:             rl.Burst,
			MaxClients:        rl.MaxClients,
		}),
		ClientIPHeader: rl.ClientIPHeader,
		Metrics:        m,
	}
}
