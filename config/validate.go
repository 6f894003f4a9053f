package config

import (
	"maps"
	"slices"
	"strings"

	"github.com/jwt-authz/jwt-authz/internal/urlpath"
)

// maxMaxTokenBytes caps max_token_bytes: a larger limit would only let a
// client make the service parse megabytes of base64 per request.
const maxMaxTokenBytes = 1 << 20

// Validate checks a configuration whose defaults have been applied (see
// ApplyDefaults; Load and Parse do both). It returns nil, or every problem as
// a *FieldError joined with errors.Join, in the order of the keys; it does
// not stop at the first.
func (c *Config) Validate() error {
	return c.validate().err()
}

func (c *Config) validate() problems {
	var p problems
	ls := []listener{
		{"grpc_addr", c.GRPCAddr},
		{"http_addr", c.HTTPAddr},
		{"admin_addr", c.AdminAddr},
	}
	if c.MetricsAddr != "" {
		ls = append(ls, listener{"metrics_addr", c.MetricsAddr})
	}
	validateListeners(&p, ls)
	validateAdminExposure(&p, c.AdminAddr, c.AdminTokenFile)
	if c.DataDir == "" {
		p.add("data_dir", "must not be empty")
	}
	oneOf(&p, "log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf(&p, "log_format", c.LogFormat, "json", "text")
	oneOf(&p, "path_normalization", c.PathNormalization, PathNormalizationReject, PathNormalizationEnvoy)
	oneOf(&p, "proc_tuning", c.ProcTuning, ProcTuningAuto, ProcTuningOff)
	if h := c.ForwardAuthClientCertHeader; h != "" {
		if msg := headerNameProblem(h); msg != "" {
			p.add("forward_auth_client_cert_header", "%s", msg)
		}
	}
	c.validateDecisionLog(&p)
	c.validateDPoPNonces(&p)
	c.validateTracing(&p)
	if c.ShutdownDelay < 0 {
		p.add("shutdown_delay", "must not be negative")
	}
	if c.MaxTokenBytes < 1 || c.MaxTokenBytes > maxMaxTokenBytes {
		p.add("max_token_bytes", "must be between 1 and %d", maxMaxTokenBytes)
	}
	known := c.validateProviders(&p)
	c.validateTokenSources(&p)
	c.validateRules(&p, known)
	if c.TokenCache.MaxEntries != nil && *c.TokenCache.MaxEntries < 0 {
		p.add("token_cache.max_entries", "must not be negative (0 disables the cache)")
	}
	c.validateRateLimit(&p)
	c.validateBackchannelLogoutRateLimit(&p)
	c.validateRevocation(&p)
	c.validateListenerLimits(&p)
	if c.IssuerEnabled() {
		c.validateIssuer(&p, known)
	}
	if len(c.Providers) == 0 && !c.IssuerEnabled() {
		p.add("providers", "at least one provider is needed (or enable issuer)")
	}
	return p
}

// oneOf reports a value outside the allowed set.
func oneOf(p *problems, path, val string, allowed ...string) {
	if slices.Contains(allowed, val) {
		return
	}
	p.add(path, "must be %s, not %s%s", orList(allowed), quote(val), didYouMean(val, allowed))
}

// orList renders ["a","b","c"] as "one of a, b or c" (or just "a").
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return "one of " + strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// andList renders ["a","b","c"] as "a, b and c".
func andList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func (c *Config) validateTokenSources(p *problems) {
	if c.TokenSources != nil && len(c.TokenSources) == 0 {
		p.add("token_sources", "must list at least one source (leave it out for the default, header authorization)")
		return
	}
	first := make(map[string]int, len(c.TokenSources))
	for i, ts := range c.TokenSources {
		path := indexPath("token_sources", i)
		var kinds []string
		for _, k := range []struct{ kind, name string }{{"header", ts.Header}, {"cookie", ts.Cookie}, {"query", ts.Query}} {
			if k.name != "" {
				kinds = append(kinds, k.kind)
			}
		}
		if len(kinds) != 1 {
			p.add(path, "set exactly one of header, cookie or query")
			continue
		}
		var id string
		switch {
		case ts.Header != "":
			id = "header " + ts.Header
			if msg := headerNameProblem(ts.Header); msg != "" {
				p.add(path+".header", "%s", msg)
				continue
			}
		case ts.Cookie != "":
			id = "cookie " + ts.Cookie
			if !isToken(ts.Cookie) {
				p.add(path+".cookie", "%s is not a valid cookie name", quote(ts.Cookie))
				continue
			}
		default:
			id = "query " + ts.Query
			if strings.ContainsAny(ts.Query, " \t\r\n&=#?") {
				p.add(path+".query", "%s is not a valid query parameter name", quote(ts.Query))
				continue
			}
		}
		if j, dup := first[id]; dup {
			p.add(path, "repeats token_sources[%d]", j)
			continue
		}
		first[id] = i
	}
}

// httpMethods are the methods a rule may match: those of RFC 9110, PATCH and
// the WebDAV methods. A typo such as "GTE" would otherwise make a rule
// silently match nothing.
var httpMethods = []string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
}

func (c *Config) validateRules(p *problems, known map[string]bool) {
	for i, r := range c.Rules {
		path := indexPath("rules", i)
		validateRulePath(p, path+".match.path_prefix", r.Match.PathPrefix)
		validateRulePath(p, path+".match.path", r.Match.Path)
		for j, m := range r.Match.Methods {
			mp := indexPath(path+".match.methods", j)
			// Methods compare case-insensitively, as requests are matched.
			if !slices.Contains(httpMethods, strings.ToUpper(m)) {
				p.add(mp, "unknown HTTP method %s%s", quote(m), didYouMean(strings.ToUpper(m), httpMethods))
			}
		}
		if h := r.Match.Host; h != "" && (strings.Contains(h, "/") || strings.ContainsAny(h, " \t\r\n")) {
			p.add(path+".match.host", "must be a host name such as api.example.com, not %s", quote(h))
		}
		if r.Providers != nil && len(r.Providers) == 0 {
			p.add(path+".providers", "must name at least one provider (leave it out to accept every provider)")
		}
		for j, name := range r.Providers {
			checkProviderRef(p, indexPath(path+".providers", j), name, known)
		}
		for j, s := range r.RequireScopes {
			sp := indexPath(path+".require_scopes", j)
			switch {
			case s == "":
				p.add(sp, "must not be empty")
			case strings.ContainsAny(s, " \t\r\n"):
				p.add(sp, "must be a single scope without spaces; list each scope separately")
			}
		}
		for _, claim := range slices.Sorted(maps.Keys(r.RequireClaims)) {
			if strings.TrimSpace(claim) == "" {
				p.add(childPath(path+".require_claims", claim), "claim name must not be empty")
			}
		}
		if r.AllowAnonymous && (len(r.RequireScopes) > 0 || len(r.RequireClaims) > 0) {
			p.add(path, "allow_anonymous contradicts require_scopes and require_claims: an anonymous request has neither")
		}
	}
}

// validateRulePath reports a path or prefix that no request path can
// equal: one that is ambiguous (requests like it are refused) or not in
// the canonical form every request path is brought to before matching.
func validateRulePath(p *problems, path, val string) {
	if val == "" {
		return
	}
	if !strings.HasPrefix(val, "/") {
		p.add(path, "must start with \"/\"")
		return
	}
	canon, ok := urlpath.Normalize(val, urlpath.Reject)
	switch {
	case !ok:
		p.add(path, "%s is ambiguous (a dot segment, %%2E, %%2F, %%5C, a backslash, a control character or a malformed escape): no request path matches it", quote(val))
	case strings.ContainsAny(val, "?#"):
		p.add(path, "%s must not contain a query or fragment: rules match the path only", quote(val))
	case canon != val:
		p.add(path, "%s is not normalized; request paths are compared in the form %s", quote(val), quote(canon))
	}
}

// checkProviderRef reports a reference to a provider that does not exist.
func checkProviderRef(p *problems, path, name string, known map[string]bool) {
	if known[name] {
		return
	}
	if name == SelfProvider {
		p.add(path, "provider %q exists only while issuer.enabled is true", SelfProvider)
		return
	}
	hint := ""
	// Suggestions cost an edit distance per known name; skip them for
	// configurations large enough to make that quadratic.
	if len(known) <= maxSuggestCandidates {
		hint = didYouMean(name, slices.Sorted(maps.Keys(known)))
	}
	p.add(path, "unknown provider %s%s", quote(name), hint)
}

func (c *Config) validateRevocation(p *problems) {
	r := &c.Revocation
	oneOf(p, "revocation.store", r.Store, StoreMemory, StoreBolt, StoreRedis)
	if r.Store == StoreRedis {
		r.validateRedis(p)
	}
	if r.MaxStaleness <= 0 {
		p.add("revocation.max_staleness", "must be greater than 0")
	}
	if r.SyncInterval <= 0 {
		p.add("revocation.sync_interval", "must be greater than 0")
	}
}

func (c *Config) validateIssuer(p *problems, known map[string]bool) {
	is := &c.Issuer
	if strings.HasPrefix(strings.ToUpper(is.Algorithm), "HS") || strings.EqualFold(is.Algorithm, "none") {
		p.add("issuer.algorithm", "%s is never used: the issuer publishes its keys, so it signs only with EdDSA, ES256 or RS256", quote(is.Algorithm))
	} else {
		oneOf(p, "issuer.algorithm", is.Algorithm, IssuerAlgorithms()...)
	}
	// An issuer URL derived from a bad http_addr repeats the http_addr
	// problem; report it once.
	_, _, addrProblem := splitAddr(c.HTTPAddr)
	derived := is.Issuer == issuerURLFromAddr(c.HTTPAddr) && addrProblem != ""
	if msg := issuerURLProblem(is.Issuer); msg != "" && !derived {
		p.add("issuer.issuer", "%s", msg)
	}
	if len(is.Audiences) == 0 {
		p.add("issuer.audiences", "must list at least one audience")
	}
	nonEmptyItems(p, "issuer.audiences", is.Audiences)
	positive(p, "issuer.access_token_ttl", is.AccessTokenTTL)
	positive(p, "issuer.refresh_token_ttl", is.RefreshTokenTTL)
	positive(p, "issuer.session_max_lifetime", is.SessionMaxLifetime)
	switch {
	case is.RefreshReuseGrace < 0:
		p.add("issuer.refresh_reuse_grace", "must not be negative")
	case is.AccessTokenTTL > 0 && is.RefreshReuseGrace >= is.AccessTokenTTL:
		// A retry window as long as an access token lives would let a stolen,
		// already rotated refresh token mint fresh pairs undetected.
		p.add("issuer.refresh_reuse_grace", "must be shorter than access_token_ttl (%s)", is.AccessTokenTTL)
	}
	nonEmptyItems(p, "issuer.previous_key_files", is.PreviousKeyFiles)
	for j, name := range is.ExchangeProviders {
		checkProviderRef(p, indexPath("issuer.exchange_providers", j), name, known)
	}
	nonEmptyItems(p, "issuer.exchange_claims", is.ExchangeClaims)
	validateForwarding(p, "issuer", is.ForwardClaims, is.ForwardPayloadHeader)
	validateDPoP(p, "issuer", is.DPoP, is.DPoPProofMaxAge)
}

func nonEmptyItems(p *problems, path string, items []string) {
	for i, s := range items {
		if strings.TrimSpace(s) == "" {
			p.add(indexPath(path, i), "must not be empty")
		}
	}
}

// maxRateLimitClients bounds token_endpoint_rate_limit.max_clients: each
// tracked client costs a few hundred bytes.
const maxRateLimitClients = 10_000_000

func (c *Config) validateRateLimit(p *problems) {
	r := c.TokenEndpointRateLimit
	const key = "token_endpoint_rate_limit."
	if v := r.RateLimitPerSecond(); v < 0 || v > 1_000_000 {
		p.add(key+"requests_per_second", "must be between 0 (no limit) and 1000000")
	}
	if r.Burst < 1 || r.Burst > 1_000_000 {
		p.add(key+"burst", "must be between 1 and 1000000")
	}
	if r.MaxClients < 1 || r.MaxClients > maxRateLimitClients {
		p.add(key+"max_clients", "must be between 1 and %d", maxRateLimitClients)
	}
	if h := r.ClientIPHeader; h != "" {
		if msg := headerNameProblem(h); msg != "" {
			p.add(key+"client_ip_header", "%s", msg)
		}
	}
}

func (c *Config) validateDecisionLog(p *problems) {
	for _, r := range []struct {
		key string
		v   *float64
	}{{"decision_log.sample_allow", c.DecisionLog.SampleAllow}, {"decision_log.sample_deny", c.DecisionLog.SampleDeny}} {
		if r.v != nil && !(*r.v >= 0 && *r.v <= 1) {
			p.add(r.key, "must be between 0 and 1, not %v", *r.v)
		}
	}
	if c.DecisionLog.Path != "" && strings.TrimSpace(c.DecisionLog.Path) != c.DecisionLog.Path {
		p.add("decision_log.path", "must not start or end with white space")
	}
}
