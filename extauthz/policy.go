package extauthz

import (
	"context"
	"fmt"
	"net/textproto"
	"sort"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/internal/urlpath"
	"github.com/jwt-authz/jwt-authz/token"
)

// Verifier verifies and validates a raw token; *token.Verifier satisfies it.
type Verifier interface {
	// Verify returns the verified result, or an error wrapping one of the
	// token package's sentinel errors. The Result names the provider
	// whenever the issuer was recognised, even on error.
	Verify(ctx context.Context, raw string) (token.Result, error)
	// Precheck rejects, cheaply and before any cache lookup, what the size
	// and the header alone show to be unacceptable; nil means "maybe".
	Precheck(raw string) error
}

// Provider is a trusted issuer as Check sees it: its token rules plus what
// an allowed request carries upstream. A reload that leaves a provider's
// configuration unchanged should pass the same *Provider again, so that
// tokens cached under it stay cached; a new pointer invalidates them.
type Provider struct {
	Token                *token.Provider
	ForwardClaims        map[string]string // claim path -> request header
	ForwardPayloadHeader string
	KeepAuthorization    bool
	// MTLSBound says whether the provider's tokens must be bound to the
	// client certificate; a bound token always needs its certificate.
	MTLSBound MTLSBinding
	// DPoP checks the proofs of the provider's DPoP-bound tokens (cnf.jkt,
	// RFC 9449); nil refuses every DPoP-bound token. A DPoP-bound token is
	// never accepted as a bearer token.
	DPoP *dpop.Checker
	// DPoPRequired refuses tokens that are not DPoP-bound.
	DPoPRequired bool
}

// Name is the provider's configured name.
func (p *Provider) Name() string { return p.Token.Name }

// Source is one place a token is looked for; exactly one field is set.
type Source struct {
	Header string // "authorization" expects "Bearer <jwt>"; other headers hold the bare token
	Cookie string
	Query  string
}

// Rule decides which requests need what; the first matching rule applies.
// PathPrefix matches whole segments of the canonical path ("/public"
// matches "/public", "/public/" and "/public/x", not "/publicity"; a
// prefix ending in "/" matches every path below it), Path one exact
// canonical path; both are expected in canonical form (see NewPolicy).
// Methods match case-insensitively. Host matches the request's host
// case-insensitively and without a trailing dot, ignoring the request's
// port unless Host names one.
type Rule struct {
	PathPrefix     string
	Path           string
	Methods        []string
	Host           string
	AllowAnonymous bool
	DryRun         bool
	Providers      []string
	RequireScopes  []string
	RequireClaims  map[string]string
}

// PolicyOptions are the inputs of a Policy.
type PolicyOptions struct {
	Verifier            Verifier
	Providers           []*Provider
	Sources             []Source // default: the authorization header
	Rules               []Rule
	DryRun              bool
	BypassCORSPreflight bool
	PathNormalization   PathNormalization
	// ClientCertHeader names the header that carries the client
	// certificate on the forward-auth endpoints: an Envoy
	// x-forwarded-client-cert value or a URL-encoded PEM. "" reads none.
	// Check never reads a certificate from headers, only from the
	// request's source.certificate.
	ClientCertHeader string
}

// Policy is an immutable, precompiled set of providers, rules and
// responses. Build it with NewPolicy and install it with Server.SetPolicy.
type Policy struct {
	verifier   Verifier
	providers  map[*Provider]*providerState
	byName     map[string]*Provider
	sources    []Source
	rules      []*rule
	defaultRl  *rule
	dryRun     bool
	bypassCORS bool
	pathMode   urlpath.Mode
	certHeader string   // canonical; "" when forward-auth reads no certificate
	forwarded  []string // every forwarded header name of every provider, for spoofing protection

	anonymous *authv3.CheckResponse // allow without a token
	none      *providerState        // counters and denials when no provider is known
}

type providerState struct {
	p       *Provider
	ok      *okTemplate // nil for the "none" state
	denials [reasonCount]*authv3.CheckResponse
	// dpopDenials are the 401 answers to a token sent with the DPoP
	// scheme: a DPoP challenge instead of a Bearer one.
	dpopDenials [reasonCount]*authv3.CheckResponse
	algs        string // the algs parameter of DPoP challenges
	counts      counters
}

type rule struct {
	Rule
	index     int
	host      string // canonical
	hostPort  bool   // host names a port
	methods   map[string]bool
	providers map[*Provider]bool // nil: any provider
	// forbidden is the 403 answer of this rule, per provider.
	forbidden map[*Provider][2]*authv3.CheckResponse // [insufficient_scope, claim_mismatch]
}

// NewPolicy checks and compiles the options. m must be the Metrics of the
// Server the policy is installed on.
func NewPolicy(opts PolicyOptions, m *Metrics) (*Policy, error) {
	if opts.Verifier == nil {
		return nil, fmt.Errorf("extauthz: policy needs a verifier")
	}
	pol := &Policy{
		verifier:   opts.Verifier,
		providers:  make(map[*Provider]*providerState, len(opts.Providers)),
		byName:     make(map[string]*Provider, len(opts.Providers)),
		sources:    opts.Sources,
		dryRun:     opts.DryRun,
		bypassCORS: opts.BypassCORSPreflight,
		pathMode:   opts.PathNormalization.mode(),
	}
	if opts.ClientCertHeader != "" {
		pol.certHeader = canonicalHeader(opts.ClientCertHeader)
	}
	if len(pol.sources) == 0 {
		pol.sources = []Source{{Header: "authorization"}}
	}
	for i, s := range pol.sources {
		n := 0
		for _, v := range []string{s.Header, s.Cookie, s.Query} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("extauthz: token_sources[%d] needs exactly one of header, cookie, query", i)
		}
		pol.sources[i].Header = strings.ToLower(s.Header)
	}
	seen := map[string]bool{}
	for _, p := range opts.Providers {
		if p == nil || p.Token == nil {
			return nil, fmt.Errorf("extauthz: provider without token rules")
		}
		if _, dup := pol.byName[p.Name()]; dup {
			return nil, fmt.Errorf("extauthz: provider %s listed twice", p.Name())
		}
		pol.byName[p.Name()] = p
		for _, h := range p.ForwardClaims {
			h = strings.ToLower(h)
			if !seen[h] {
				seen[h] = true
				pol.forwarded = append(pol.forwarded, h)
			}
		}
		if h := strings.ToLower(p.ForwardPayloadHeader); h != "" && !seen[h] {
			seen[h] = true
			pol.forwarded = append(pol.forwarded, h)
		}
	}
	sort.Strings(pol.forwarded)
	for _, p := range opts.Providers {
		st := newProviderState(p, p.Name(), m)
		st.ok = newOKTemplate(p, pol.forwarded)
		pol.providers[p] = st
	}
	pol.none = newProviderState(nil, "none", m)
	pol.anonymous = anonymousResponse(pol.forwarded)
	for i, r := range opts.Rules {
		cr, err := pol.compileRule(i, r)
		if err != nil {
			return nil, err
		}
		pol.rules = append(pol.rules, cr)
	}
	pol.defaultRl, _ = pol.compileRule(-1, Rule{})
	return pol, nil
}

func newProviderState(p *Provider, name string, m *Metrics) *providerState {
	st := &providerState{p: p, counts: m.counters(name), algs: proofAlgs(p)}
	for r := ReasonMissing; r < reasonCount; r++ {
		if r.kind() != kindForbidden {
			st.denials[r] = denyResponse(r, name, nil)
		}
		if r.kind() == kindUnauthenticated {
			st.dpopDenials[r] = dpopDenyResponse(r, name, st.algs, "")
		}
	}
	// A refused proof is answered with a DPoP challenge whatever the scheme.
	st.denials[ReasonInvalidDPoPProof] = st.dpopDenials[ReasonInvalidDPoPProof]
	return st
}

func (pol *Policy) compileRule(i int, r Rule) (*rule, error) {
	cr := &rule{Rule: r, index: i}
	for key, p := range map[string]string{"path_prefix": r.PathPrefix, "path": r.Path} {
		if p == "" {
			continue
		}
		// A rule in another form than the requests it is compared with
		// would silently match nothing, or less than it says.
		if c, ok := urlpath.Normalize(p, urlpath.Reject); !ok || c != p || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("extauthz: rules[%d].match.%s: %q is not a normalized, unambiguous path", i, key, p)
		}
	}
	if r.Host != "" {
		cr.host = canonicalHost(r.Host)
		_, port := urlpath.SplitHostPort(cr.host)
		cr.hostPort = port != ""
	}
	if len(r.Methods) > 0 {
		cr.methods = make(map[string]bool, len(r.Methods))
		for _, m := range r.Methods {
			cr.methods[strings.ToUpper(m)] = true
		}
	}
	if len(r.Providers) > 0 {
		cr.providers = make(map[*Provider]bool, len(r.Providers))
		for _, n := range r.Providers {
			p, ok := pol.byName[n]
			if !ok {
				return nil, fmt.Errorf("extauthz: rules[%d].providers: unknown provider %q", i, n)
			}
			cr.providers[p] = true
		}
	}
	cr.forbidden = make(map[*Provider][2]*authv3.CheckResponse, len(pol.providers)+1)
	for p := range pol.providers {
		cr.forbidden[p] = forbiddenPair(r.RequireScopes, p.Name())
	}
	cr.forbidden[nil] = forbiddenPair(r.RequireScopes, "none")
	return cr, nil
}

func forbiddenPair(scopes []string, provider string) [2]*authv3.CheckResponse {
	return [2]*authv3.CheckResponse{
		denyResponse(ReasonInsufficientScope, provider, scopes),
		denyResponse(ReasonClaimMismatch, provider, scopes),
	}
}

// match returns the first rule that fits the request view (method in
// upper case, canonical path and host; see request.view), or the default
// rule (any provider, a valid token required).
func (pol *Policy) match(method, path, host string) *rule {
	for _, r := range pol.rules {
		if r.PathPrefix != "" && !prefixMatches(path, r.PathPrefix) {
			continue
		}
		if r.Path != "" && path != r.Path {
			continue
		}
		if r.methods != nil && !r.methods[method] {
			continue
		}
		if r.host != "" && !r.hostMatches(host) {
			continue
		}
		return r
	}
	return pol.defaultRl
}

// prefixMatches reports whether prefix covers path in whole segments:
// "/public" covers "/public", "/public/" and "/public/x", not
// "/publicity"; "/static/" covers "/static/" and everything below it.
func prefixMatches(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// hostMatches compares a canonical request host with the rule's, ignoring
// the request's port when the rule names none. A request without a host
// matches no host rule.
func (r *rule) hostMatches(host string) bool {
	if host == "" {
		return false
	}
	if !r.hostPort {
		host, _ = urlpath.SplitHostPort(host)
	}
	return host == r.host
}

// canonicalHeader is the HTTP/1 form of a lower-case header name.
func canonicalHeader(h string) string { return textproto.CanonicalMIMEHeaderKey(h) }
