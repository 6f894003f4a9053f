package extauthz

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jwt-authz/jwt-authz/cache"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/token"
)

// RevocationChecker is consulted on every Check, cached or not.
type RevocationChecker interface {
	// Check returns nil when the token is not revoked,
	// revocation.ErrRevoked when it is, and revocation.ErrUnavailable when
	// the revocation state is too stale to trust. It must not block on the
	// network.
	Check(jti, sid, sub string, iat int64) error
}

// DefaultUncappedCacheTTL bounds how long a token without "exp" (allowed
// only with require_exp: false) stays cached.
const DefaultUncappedCacheTTL = 5 * time.Minute

// Options configure a Server.
type Options struct {
	Revocation   RevocationChecker // nil: revocation is not checked
	CacheEntries int               // 0 disables the verified-token cache
	Metrics      *Metrics
	Logger       *slog.Logger
	Clock        func() time.Time
}

// Server implements envoy.service.auth.v3.Authorization.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	policy atomic.Pointer[Policy]
	cache  *cache.Cache[*verifiedToken]
	rev    RevocationChecker
	m      *Metrics
	log    *slog.Logger
	now    func() time.Time
}

// verifiedToken is a cache entry: everything an allowed Check of the same
// token needs, built once. It keeps the claims once, as the protobuf Struct
// inside the allowed response's metadata, which require_claims reads too.
type verifiedToken struct {
	prov     *Provider
	key      *jwks.Key
	claims   *token.Claims // registered claims; the payload is dropped
	payload  *structpb.Struct
	ok       *authv3.CheckResponse
	upstream []header
	// wired is set once ok's wire form is remembered: on the first cache
	// hit, so a token seen once never pays for it.
	wired atomic.Bool
}

// NewServer returns a Server answering with pol.
func NewServer(pol *Policy, opts Options) (*Server, error) {
	if pol == nil || opts.Metrics == nil {
		return nil, fmt.Errorf("extauthz: server needs a policy and metrics")
	}
	c, err := cache.New[*verifiedToken](opts.CacheEntries)
	if err != nil {
		return nil, fmt.Errorf("extauthz: token cache: %w", err)
	}
	s := &Server{cache: c, rev: opts.Revocation, m: opts.Metrics, log: opts.Logger, now: opts.Clock}
	var l lenner = c
	opts.Metrics.cacheLen.Store(&l)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.policy.Store(pol)
	return s, nil
}

// CacheLen is the number of cached tokens.
func (s *Server) CacheLen() int { return s.cache.Len() }

// PurgeCache drops every cached token.
func (s *Server) PurgeCache() { s.cache.Purge() }

// Register adds the Authorization service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// SetPolicy installs a new policy atomically; requests in flight finish on
// the old one. Cached tokens of providers that are not in the new policy
// (by pointer) are no longer served.
func (s *Server) SetPolicy(pol *Policy) { s.policy.Store(pol) }

// Policy returns the policy in force.
func (s *Server) Policy() *Policy { return s.policy.Load() }

// outcome is a decision before it is rendered for a transport.
type outcome struct {
	reason Reason
	st     *providerState
	vt     *verifiedToken // the verified token, when there is one
	rule   *rule
	dryRun bool // a denial turned into an allow
}

// Check answers one ext_authz request. A denial is a response, never an
// error.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := time.Now()
	pol := s.policy.Load()
	r := fromCheck(req)
	o := s.decide(ctx, pol, &r)
	resp := s.render(pol, &o)
	s.record(ctx, &r, &o, start)
	return resp, nil
}

func (s *Server) render(pol *Policy, o *outcome) *authv3.CheckResponse {
	if o.reason == ReasonOK || o.dryRun {
		if o.vt != nil {
			return o.vt.ok
		}
		return pol.anonymous
	}
	if o.reason.kind() == kindForbidden {
		var p *Provider
		if o.vt != nil {
			p = o.vt.prov
		}
		return o.rule.forbidden[p][o.reason-ReasonInsufficientScope]
	}
	return o.st.denials[o.reason]
}

func (s *Server) record(ctx context.Context, r *request, o *outcome, start time.Time) {
	result := resultAllowed
	switch {
	case o.reason == ReasonOK:
	case o.dryRun:
		result = resultDryRunDenied
	default:
		result = resultDenied
	}
	o.st.counts[result][o.reason].Inc()
	s.m.observer(result).Observe(time.Since(start).Seconds())
	switch {
	case result == resultDryRunDenied:
		s.log.LogAttrs(ctx, slog.LevelInfo, "dry run: request would be denied", s.attrs(r, o)...)
	case s.log.Enabled(ctx, slog.LevelDebug):
		msg := "allowed"
		if result == resultDenied {
			msg = "denied"
		}
		s.log.LogAttrs(ctx, slog.LevelDebug, msg, s.attrs(r, o)...)
	}
}

// attrs never include the token, the query string or claim sets.
func (s *Server) attrs(r *request, o *outcome) []slog.Attr {
	provider := "none"
	if o.st.p != nil {
		provider = o.st.p.Name()
	}
	a := []slog.Attr{
		slog.String("request_id", r.id),
		slog.String("reason", o.reason.String()),
		slog.String("provider", provider),
		slog.String("method", r.method),
		slog.String("path", r.path),
		slog.Int("rule", o.rule.index),
	}
	if o.vt != nil && o.vt.claims.ID != "" {
		a = append(a, slog.String("jti", o.vt.claims.ID))
	}
	return a
}

// decide runs the whole decision for one request.
func (s *Server) decide(ctx context.Context, pol *Policy, r *request) outcome {
	rl := pol.match(r.method, r.path, r.host)
	o := outcome{st: pol.none, rule: rl}
	if pol.bypassCORS && r.method == "OPTIONS" {
		if _, ok := r.header("origin"); ok {
			if _, ok := r.header("access-control-request-method"); ok {
				return o
			}
		}
	}
	raw, found := extract(pol.sources, r)
	if !found {
		if rl.AllowAnonymous {
			return o
		}
		return s.deny(pol, o, ReasonMissing)
	}
	vt, reason, st := s.verify(ctx, pol, raw)
	if st != nil {
		o.st = st
	}
	if reason != ReasonOK {
		return s.deny(pol, o, reason)
	}
	o.vt = vt
	if rl.providers != nil && !rl.providers[vt.prov] {
		return s.deny(pol, o, ReasonUnknownIssuer)
	}
	if !vt.claims.HasScopes(rl.RequireScopes) {
		return s.deny(pol, o, ReasonInsufficientScope)
	}
	if !claimsMatch(vt.payload, rl.RequireClaims) {
		return s.deny(pol, o, ReasonClaimMismatch)
	}
	return o
}

func (s *Server) deny(pol *Policy, o outcome, reason Reason) outcome {
	o.reason = reason
	o.dryRun = pol.dryRun || o.rule.DryRun
	return o
}

// verify returns the verified token for raw from the cache or by verifying
// it, and checks revocation either way.
func (s *Server) verify(ctx context.Context, pol *Policy, raw string) (*verifiedToken, Reason, *providerState) {
	// Made-up tokens (garbage, unknown kids) stop here, allocation-free and
	// before the token is hashed: a flood of them costs less than cache hits.
	if err := pol.verifier.Precheck(raw); err != nil {
		return nil, reasonFor(err), nil
	}
	now := s.now()
	key := cache.KeyOf(raw)
	if vt, ok := s.cache.Get(key, now.Unix()); ok {
		if st, current := pol.providers[vt.prov]; current && !vt.key.Removed() {
			s.m.cacheHit.Inc()
			if !vt.wired.Load() && !vt.wired.Swap(true) {
				rememberWire(vt.ok)
			}
			return vt, s.revoked(vt), st
		}
		s.cache.Remove(key)
	}
	if s.cache != nil {
		s.m.cacheMiss.Inc()
	}
	res, err := pol.verifier.Verify(ctx, raw)
	var st *providerState
	var prov *Provider
	if res.Provider != nil {
		if prov = pol.byName[res.Provider.Name]; prov != nil {
			st = pol.providers[prov]
		}
	}
	if err != nil {
		return nil, reasonFor(err), st
	}
	if prov == nil || prov.Token != res.Provider {
		// The verifier and the policy disagree: never allow.
		return nil, ReasonUnknownIssuer, st
	}
	vt, err := newVerifiedToken(prov, pol.forwarded, res, raw)
	if err != nil {
		return nil, ReasonMalformed, st
	}
	expires := res.Claims.Expiry
	if expires == 0 {
		expires = now.Add(DefaultUncappedCacheTTL).Unix()
	}
	s.cache.Add(key, vt, expires)
	return vt, s.revoked(vt), st
}

func (s *Server) revoked(vt *verifiedToken) Reason {
	if s.rev == nil {
		return ReasonOK
	}
	c := vt.claims
	return reasonFor(s.rev.Check(c.ID, c.SessionID, c.Subject, c.IssuedAt))
}

func newVerifiedToken(p *Provider, forwarded []string, res token.Result, raw string) (*verifiedToken, error) {
	payload, err := res.Claims.Decode()
	if err != nil {
		return nil, err
	}
	first := strings.IndexByte(raw, '.')
	second := first + 1 + strings.IndexByte(raw[first+1:], '.')
	claims := *res.Claims
	claims.RawPayload, claims.Payload = nil, nil
	vt := &verifiedToken{
		prov:     p,
		key:      res.Key,
		claims:   &claims,
		payload:  structValue(payload).GetStructValue(),
		upstream: upstreamHeaders(p, payload, strings.Clone(raw[first+1:second])),
	}
	vt.ok = okResponse(p, forwarded, vt.upstream, vt.payload)
	return vt, nil
}

// claimsMatch reports whether every required claim has the wanted value:
// a string equal to it, an array containing it, or a number or boolean
// whose JSON form equals it.
func claimsMatch(payload *structpb.Struct, want map[string]string) bool {
	for path, w := range want {
		v, ok := lookupStruct(payload, path)
		if !ok || !valueMatches(v, w) {
			return false
		}
	}
	return true
}

// lookupStruct walks a dotted path through the claims as token.Lookup
// does: a key that itself contains dots is matched whole first.
func lookupStruct(s *structpb.Struct, path string) (*structpb.Value, bool) {
	if v, ok := s.GetFields()[path]; ok {
		return v, true
	}
	for {
		part, rest, more := strings.Cut(path, ".")
		v, ok := s.GetFields()[part]
		if !ok {
			return nil, false
		}
		if !more {
			return v, true
		}
		if s = v.GetStructValue(); s == nil {
			return nil, false
		}
		path = rest
	}
}

func valueMatches(v *structpb.Value, want string) bool {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue == want
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(k.NumberValue, 'f', -1, 64) == want
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue) == want
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if valueMatches(e, want) {
				return true
			}
		}
	}
	return false
}
