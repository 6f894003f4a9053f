package config

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// maxProviderNameLen keeps provider names usable as metric label values and
// DNS-style identifiers.
const maxProviderNameLen = 63

// validateProviders checks every provider and returns the names that rules
// and issuer.exchange_providers may refer to.
func (c *Config) validateProviders(p *problems) map[string]bool {
	known := make(map[string]bool, len(c.Providers)+1)
	first := make(map[string]int, len(c.Providers))
	issuers := make(map[string]int, len(c.Providers))
	for i := range c.Providers {
		pr := &c.Providers[i]
		path := indexPath("providers", i)
		c.validateProviderName(p, path+".name", pr.Name)
		if pr.Name != "" {
			if j, dup := first[pr.Name]; dup {
				p.add(path+".name", "%s is already the name of providers[%d]", quote(pr.Name), j)
			} else {
				first[pr.Name] = i
			}
			// Known even when invalid, so that rules naming it do not add
			// a second, misleading problem.
			known[pr.Name] = true
		}
		validateProvider(p, path, pr)
		// Tokens are matched to their provider by "iss": two providers
		// with one issuer would leave the choice to chance.
		if pr.Issuer != "" {
			if j, dup := issuers[pr.Issuer]; dup {
				p.add(path+".issuer", "%s is already the issuer of providers[%d]; one provider per issuer", quote(pr.Issuer), j)
			} else {
				issuers[pr.Issuer] = i
			}
			if c.IssuerEnabled() && pr.Issuer == c.Issuer.Issuer {
				p.add(path+".issuer", "%s is issuer.issuer, the built-in issuer's (provider %q)", quote(pr.Issuer), SelfProvider)
			}
		}
	}
	if c.IssuerEnabled() {
		known[SelfProvider] = true
	}
	return known
}

func (c *Config) validateProviderName(p *problems, path, name string) {
	switch {
	case name == "":
		p.add(path, "must not be empty")
	case !isProviderName(name):
		p.add(path, "%s must contain only a-z, 0-9 and -", quote(name))
	case len(name) > maxProviderNameLen:
		p.add(path, "must be at most %d characters", maxProviderNameLen)
	case name == SelfProvider && c.IssuerEnabled():
		p.add(path, "%q is reserved for the built-in issuer while issuer.enabled is true; pick another name", SelfProvider)
	}
}

func isProviderName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validateProvider(p *problems, path string, pr *Provider) {
	switch {
	case pr.Issuer == "":
		p.add(path+".issuer", "must not be empty")
	case strings.TrimSpace(pr.Issuer) != pr.Issuer:
		p.add(path+".issuer", "must not start or end with white space (it is compared exactly with \"iss\")")
	}
	validateKeySource(p, path, pr)
	oneOf(p, path+".mtls_bound", pr.MTLSBound, MTLSBoundAllowed, MTLSBoundRequired)
	validateDPoP(p, path, pr.DPoP, pr.DPoPProofMaxAge)
	validateAlgorithms(p, path+".algorithms", pr.Algorithms)
	nonNegative(p, path+".clock_skew", pr.ClockSkew)
	nonNegative(p, path+".max_lifetime", pr.MaxLifetime)
	if strings.ContainsAny(pr.Typ, " \t\r\n") {
		p.add(path+".typ", "must not contain white space")
	}
	positive(p, path+".jwks_refresh_interval", pr.JWKSRefreshInterval)
	positive(p, path+".jwks_min_refresh_interval", pr.JWKSMinRefreshInterval)
	if pr.JWKSMinRefreshInterval > pr.JWKSRefreshInterval && pr.JWKSRefreshInterval > 0 {
		p.add(path+".jwks_min_refresh_interval", "must not exceed jwks_refresh_interval (%s > %s)",
			pr.JWKSMinRefreshInterval, pr.JWKSRefreshInterval)
	}
	nonNegative(p, path+".jwks_max_stale", pr.JWKSMaxStale)
	if pr.JWKSMaxStale > 0 && pr.JWKSMaxStale < pr.JWKSRefreshInterval {
		// Keys would go stale between two regular refreshes.
		p.add(path+".jwks_max_stale", "must be at least jwks_refresh_interval (%s < %s)",
			pr.JWKSMaxStale, pr.JWKSRefreshInterval)
	}
	nonEmptyItems(p, path+".audiences", pr.Audiences)
	validateForwarding(p, path, pr.ForwardClaims, pr.ForwardPayloadHeader)
	validateBackchannelLogout(p, path, pr.BackchannelLogout)
}

func validateKeySource(p *problems, path string, pr *Provider) {
	var set []string
	if pr.JWKSURI != "" {
		set = append(set, "jwks_uri")
	}
	if pr.Discovery {
		set = append(set, "discovery")
	}
	if pr.JWKSFile != "" {
		set = append(set, "jwks_file")
	}
	switch len(set) {
	case 0:
		p.add(path, "needs one of jwks_uri, discovery or jwks_file")
	case 1:
	default:
		p.add(path, "%s exclude each other; set only one", andList(set))
	}
	if pr.JWKSURI != "" {
		if msg := fetchURLProblem(pr.JWKSURI, pr.AllowHTTP); msg != "" {
			p.add(path+".jwks_uri", "%s", msg)
		}
	}
	if pr.Discovery && pr.Issuer != "" {
		if msg := fetchURLProblem(pr.Issuer, pr.AllowHTTP); msg != "" {
			p.add(path+".issuer", "%s (discovery reads <issuer>/.well-known/openid-configuration)", msg)
		}
	}
}

func validateAlgorithms(p *problems, path string, algs []string) {
	if algs != nil && len(algs) == 0 {
		p.add(path, "must list at least one algorithm (leave it out for the default)")
		return
	}
	supported := DefaultAlgorithms()
	seen := make(map[string]bool, len(algs))
	for i, alg := range algs {
		ap := indexPath(path, i)
		upper := strings.ToUpper(alg)
		switch {
		case slices.Contains(supported, alg):
			if seen[alg] {
				p.add(ap, "%s is listed twice", alg)
			}
			seen[alg] = true
		case upper == "NONE":
			p.add(ap, "%s is never accepted: unsigned tokens prove nothing", quote(alg))
		case strings.HasPrefix(upper, "HS"):
			p.add(ap, "%s is never accepted: HMAC keys are shared secrets and cannot come from a JWKS", quote(alg))
		default:
			hint := didYouMean(alg, supported)
			if hint == "" {
				hint = " (supported: " + strings.Join(supported, ", ") + ")"
			}
			p.add(ap, "unknown algorithm %s%s", quote(alg), hint)
		}
	}
}

// reservedHeaders may not be set from claims: the first two would replace
// the credential or reroute the request, the rest are hop-by-hop or framing
// headers that an upstream must not receive from a policy decision.
var reservedHeaders = []string{
	"authorization", "host",
	"connection", "content-length", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
}

// validateForwarding checks forward_claims and forward_payload_header under
// path (a provider, or issuer for the "self" provider).
func validateForwarding(p *problems, path string, claims map[string]string, payloadHeader string) {
	used := make(map[string]string, len(claims)+1)
	for _, claim := range slices.Sorted(maps.Keys(claims)) {
		cp := childPath(path+".forward_claims", claim)
		header := claims[claim]
		if !isClaimPath(claim) {
			p.add(cp, "claim must be a name or a dotted path such as realm_access.roles")
			continue
		}
		if msg := forwardHeaderProblem(header); msg != "" {
			p.add(cp, "%s", msg)
			continue
		}
		if other, dup := used[header]; dup {
			p.add(cp, "header %s already carries claim %s", quote(header), quote(other))
			continue
		}
		used[header] = claim
	}
	if h := payloadHeader; h != "" {
		if msg := forwardHeaderProblem(h); msg != "" {
			p.add(path+".forward_payload_header", "%s", msg)
		} else if claim, dup := used[h]; dup {
			p.add(path+".forward_payload_header", "header %s already carries claim %s", quote(h), quote(claim))
		}
	}
}

// isClaimPath accepts "sub" and "realm_access.roles", not "", ".a" or "a..b".
func isClaimPath(s string) bool {
	if strings.TrimSpace(s) != s || s == "" {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
	}
	return true
}

// forwardHeaderProblem says why h cannot carry a claim upstream, or "".
func forwardHeaderProblem(h string) string {
	if msg := headerNameProblem(h); msg != "" {
		return msg
	}
	if slices.Contains(reservedHeaders, h) {
		return quote(h) + " cannot be set from a token"
	}
	return ""
}

func positive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be greater than 0")
	}
}

func nonNegative(p *problems, path string, d time.Duration) {
	if d < 0 {
		p.add(path, "must not be negative")
	}
}
