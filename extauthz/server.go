package extauthz

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/cache"
	"github.com/jwt-authz/jwt-authz/internal/jsontape"
	"github.com/jwt-authz/jwt-authz/internal/urlpath"
	"github.com/jwt-authz/jwt-authz/jwks"
)

// RevocationChecker is consulted on every Check, cached or not.
type RevocationChecker interface {
	// Check returns nil when the token of provider (the verified
	// provider's configured name) is not revoked, revocation.ErrRevoked
	// when it is, and revocation.ErrUnavailable when the revocation state
	// is too stale to trust. It must not block on the network.
	Check(provider, jti, sid, sub string, iat int64) error
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
	// DecisionLog, when not nil, logs sampled decisions; the caller
	// closes it after the server has stopped.
	DecisionLog *DecisionLog
	// Tracer, when not nil, starts the spans of sampled decisions, joined
	// to the caller's trace; nil turns tracing off, and a Check then does
	// not look for trace headers at all.
	Tracer Tracer
}

// Server implements envoy.service.auth.v3.Authorization.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	policy atomic.Pointer[Policy]
	cache  *cache.Cache[*verifiedToken]
	bound  bindings // the values cache entries point at
	hot    hotTier  // claims and responses of the tokens used most
	rev    RevocationChecker
	m      *Metrics
	log    *slog.Logger
	now    func() time.Time // nil: the request's start time is now
	dlog   *DecisionLog     // nil: no decision log
	tracer Tracer           // nil: tracing is off
	// rootBound is the tracer's RootBound, read once.
	rootBound uint64

	// What the Check handler passes to an interceptor, built once.
	checkInfo   grpc.UnaryServerInfo
	checkWireFn grpc.UnaryHandler
}

// verifiedToken is what a later Check of the same token cannot read from
// the token itself: the provider and key that verified it. The claims and
// the allowed response are read again from the token's payload on every
// hit, unless the token is hot (see hotTier). A cache entry holds a
// pointer to the one verifiedToken of its provider and key (see bindings),
// so it takes about 120 bytes with the map slot, and one pointer for the
// garbage collector to follow.
type verifiedToken struct {
	prov *Provider
	key  *jwks.Key
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
	s := &Server{cache: c, rev: opts.Revocation, m: opts.Metrics, log: opts.Logger, now: opts.Clock, dlog: opts.DecisionLog, tracer: opts.Tracer}
	s.hot.seed = maphash.MakeSeed()
	if s.tracer != nil {
		s.rootBound = s.tracer.RootBound()
	}
	s.checkInfo = grpc.UnaryServerInfo{Server: s, FullMethod: checkFullMethod}
	s.checkWireFn = s.checkWire
	var l lenner = c
	opts.Metrics.cacheLen.Store(&l)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.policy.Store(pol)
	return s, nil
}

// CacheLen is the number of cached tokens.
func (s *Server) CacheLen() int { return s.cache.Len() }

// PurgeCache drops every cached token.
func (s *Server) PurgeCache() {
	s.cache.Purge()
	s.hot.purge()
}

// Register adds the Authorization service to a gRPC server, which must
// have been created with ServerOption (the Codec): its Check handler
// reads requests in place and answers with bytes. A unary interceptor
// sees the request as an internal view that is recycled when the call
// returns; it may observe it, never keep it.
func (s *Server) Register(g *grpc.Server) { g.RegisterService(&serviceDesc, s) }

// ServerOption installs the Codec that Register needs.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(NewCodec()) }

// SetPolicy installs a new policy atomically; requests in flight finish on
// the old one. Cached tokens of providers that are not in the new policy
// (by pointer) are no longer served.
func (s *Server) SetPolicy(pol *Policy) { s.policy.Store(pol) }

// Policy returns the policy in force.
func (s *Server) Policy() *Policy { return s.policy.Load() }

// outcome is a decision before it is rendered for a transport.
type outcome struct {
	reason   Reason
	st       *providerState
	verified bool          // a token was verified: vt and claims are set
	cacheHit bool          // the token was found in the cache or the hot tier
	vt       verifiedToken // the provider and key that verified it
	claims   claimsView
	hot      *hotToken // the token's reusable claims and response, when it has them
	offerHot bool      // a cache hit without them: offer the token to the hot tier
	raw      string    // the token, with offerHot
	hash     uint64    // its hot tier hash, with offerHot
	expires  int64     // its cache entry's expiry, with offerHot
	rule     *rule
	dryRun   bool // a denial turned into an allow
	// dpopScheme: the token came as "Authorization: DPoP <token>", so a
	// 401 is answered with a DPoP challenge.
	dpopScheme bool
	// nonce, when set, is the server nonce a DPoP proof lacked: the answer
	// is use_dpop_nonce with it in DPoP-Nonce.
	nonce string
	// freshNonce, when set, is a new server nonce for an allowed answer's
	// DPoP-Nonce: the accepted proof's nonce is about to expire.
	freshNonce string
	// dpopErr says why a DPoP proof was refused, for the log.
	dpopErr error
}

// Check answers one ext_authz request given as a message; the gRPC
// service reads requests in place instead (see Register). A denial is a
// response, never an error.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	r := fromCheck(req)
	switch resp := s.serve(ctx, &r).(type) {
	case *authv3.CheckResponse:
		return resp, nil
	case *wireResponse:
		out := &authv3.CheckResponse{}
		err := proto.Unmarshal(*resp, out)
		responsePool.Put((*[]byte)(resp))
		if err != nil {
			return nil, fmt.Errorf("extauthz: built response unreadable: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("extauthz: unexpected response %T", resp)
	}
}

// serve decides one request and returns its answer: a prebuilt
// *authv3.CheckResponse, or a *wireResponse built for an allowed token.
func (s *Server) serve(ctx context.Context, r *request) any {
	start := time.Now()
	var tr traced
	if s.tracer != nil {
		ctx, tr = s.startSpan(ctx, r, spanCheck)
	}
	pol := s.policy.Load()
	sc := getScratch()
	o := s.decide(ctx, pol, r, sc, start)
	var resp any
	if (o.reason == ReasonOK || o.dryRun) && o.verified {
		w := s.allowWire(&o, sc)
		if o.offerHot && o.reason == ReasonOK {
			s.hot.offer(o.raw, o.hash, o.vt, o.expires, pol, o.st, o.claims.payload64, *w)
		}
		if o.freshNonce != "" {
			*w = appendFreshNonce(*w, o.freshNonce)
		}
		resp = w
	} else {
		resp = s.render(pol, &o)
	}
	s.record(ctx, r, &o, start, tr)
	putScratch(sc)
	return resp
}

// allowWire builds the allowed response of a verified token.
func (s *Server) allowWire(o *outcome, sc *scratch) *wireResponse {
	buf := responsePool.Get(0)
	if o.hot != nil {
		*buf = append(*buf, o.hot.resp...)
		return (*wireResponse)(buf)
	}
	t := o.st.ok
	sc.upstream = t.upstream(sc.upstream[:0], &o.claims)
	sc.structPB = o.claims.root.AppendStruct(sc.structPB[:0])
	*buf = t.appendOK(*buf, sc.upstream, sc.structPB)
	return (*wireResponse)(buf)
}

// render returns the prebuilt response of every outcome but an allowed
// token.
func (s *Server) render(pol *Policy, o *outcome) *authv3.CheckResponse {
	if o.reason == ReasonOK || o.dryRun {
		return pol.anonymous
	}
	if o.reason.kind() == kindForbidden {
		var p *Provider
		if o.verified {
			p = o.vt.prov
		}
		return o.rule.forbidden[p][o.reason-ReasonInsufficientScope]
	}
	if o.nonce != "" {
		return nonceResponse(o.st, o.nonce)
	}
	if o.dpopScheme && o.reason.kind() == kindUnauthenticated {
		return o.st.dpopDenials[o.reason]
	}
	return o.st.denials[o.reason]
}

// record counts, logs and traces a decision; tr is its trace, if any.
func (s *Server) record(ctx context.Context, r *request, o *outcome, start time.Time, tr traced) {
	result := resultAllowed
	switch {
	case o.reason == ReasonOK:
	case o.dryRun:
		result = resultDryRunDenied
	default:
		result = resultDenied
	}
	o.st.counts[result][o.reason].Inc()
	latency := time.Since(start)
	s.m.observer(result).Observe(latency.Seconds())
	if s.dlog != nil {
		s.dlog.record(r, o, result, start, latency, tr.id)
	}
	if tr.span != nil {
		tr.end(r, o, result)
	}
	switch {
	case result == resultDryRunDenied:
		s.log.LogAttrs(ctx, slog.LevelInfo, "dry run: request would be denied", s.attrs(r, o)...)
	case o.reason == ReasonAmbiguousPath:
		// Rare from real clients, and a probe when it is not: say who.
		s.log.LogAttrs(ctx, slog.LevelInfo, "ambiguous path refused", s.attrs(r, o)...)
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
	}
	if o.reason == ReasonAmbiguousPath {
		p, _ := urlpath.Split(r.target)
		a = append(a, slog.String("raw_path", loggedPath(p)))
	} else {
		a = append(a, slog.String("path", r.path), slog.Int("rule", o.rule.index))
	}
	if o.verified && o.claims.jti != "" {
		a = append(a, slog.String("jti", o.claims.jti))
	}
	if o.dpopErr != nil {
		a = append(a, slog.String("dpop_error", o.dpopErr.Error()))
	}
	return a
}

// decide runs the whole decision for one request; sc holds the token's
// claims until the answer is built.
func (s *Server) decide(ctx context.Context, pol *Policy, r *request, sc *scratch, now time.Time) outcome {
	if !r.view(pol.pathMode) {
		// Before any rule: no rule can be trusted to mean this path.
		return s.deny(pol, outcome{st: pol.none, rule: pol.defaultRl}, ReasonAmbiguousPath)
	}
	rl := pol.match(r.method, r.path, r.host)
	o := outcome{st: pol.none, rule: rl}
	if pol.bypassCORS && r.method == "OPTIONS" {
		if _, ok := r.header("origin"); ok {
			if _, ok := r.header("access-control-request-method"); ok {
				return o
			}
		}
	}
	raw, dpopScheme, found := extract(pol.sources, r)
	o.dpopScheme = dpopScheme
	if !found {
		if rl.AllowAnonymous {
			return o
		}
		return s.deny(pol, o, ReasonMissing)
	}
	if s.now != nil {
		now = s.now()
	}
	reason := s.verify(ctx, pol, raw, sc, &o, now)
	if reason != ReasonOK {
		return s.deny(pol, o, reason)
	}
	if reason := certBound(o.vt.prov, r, &o.claims); reason != ReasonOK {
		return s.deny(pol, o, reason)
	}
	if reason := dpopBound(ctx, r, &o, raw, now); reason != ReasonOK {
		return s.deny(pol, o, reason)
	}
	if rl.providers != nil && !rl.providers[o.vt.prov] {
		return s.deny(pol, o, ReasonUnknownIssuer)
	}
	if !o.claims.hasScopes(rl.RequireScopes) {
		return s.deny(pol, o, ReasonInsufficientScope)
	}
	if !claimsMatch(o.claims.root, rl.RequireClaims) {
		return s.deny(pol, o, ReasonClaimMismatch)
	}
	return o
}

func (s *Server) deny(pol *Policy, o outcome, reason Reason) outcome {
	o.reason = reason
	o.dryRun = pol.dryRun || o.rule.DryRun
	return o
}

// verify finds raw in the cache or verifies it, reads its claims into sc,
// and checks revocation either way. On success o.verified is set, as are
// o.st, o.vt and o.claims; o.st is set too whenever the provider is known.
func (s *Server) verify(ctx context.Context, pol *Policy, raw string, sc *scratch, o *outcome, now time.Time) Reason {
	// Made-up tokens (garbage, unknown kids) stop here, allocation-free and
	// before the token is hashed: a flood of them costs less than cache hits.
	if err := pol.verifier.Precheck(raw); err != nil {
		return reasonFor(err)
	}
	hash := s.hot.hash(raw)
	if h := s.hot.get(raw, hash, now.Unix()); h != nil {
		// The conditions of a cache hit, below, without hashing the token.
		if st, current := pol.providers[h.vt.prov]; current && st == h.st && !h.vt.key.Removed() {
			s.m.cacheHit.Inc()
			o.st, o.vt, o.verified, o.hot, o.claims = st, h.vt, true, h, h.claims
			o.cacheHit = true
			return s.revoked(h.vt.prov, &o.claims)
		}
	}
	key := cache.KeyOf(raw)
	if vt, expires, ok := s.cache.GetExpiring(key, now.Unix()); ok {
		if st, current := pol.providers[vt.prov]; current && !vt.key.Removed() {
			if sc.readClaims(raw, nil, &o.claims) == nil {
				s.m.cacheHit.Inc()
				o.st, o.vt, o.verified, o.cacheHit = st, *vt, true, true
				o.offerHot, o.raw, o.hash, o.expires = true, raw, hash, expires
				return s.revoked(vt.prov, &o.claims)
			}
		}
		s.cache.Remove(key)
	}
	if s.cache != nil {
		s.m.cacheMiss.Inc()
	}
	res, err := pol.verifier.Verify(ctx, raw)
	var prov *Provider
	if res.Provider != nil {
		if prov = pol.byName[res.Provider.Name]; prov != nil {
			o.st = pol.providers[prov]
		}
	}
	if err != nil {
		return reasonFor(err)
	}
	if prov == nil || prov.Token != res.Provider {
		// The verifier and the policy disagree: never allow.
		return ReasonUnknownIssuer
	}
	// The verifier decoded the payload already; index that copy.
	if sc.readClaims(raw, res.Claims.RawPayload, &o.claims) != nil {
		return ReasonMalformed
	}
	o.vt, o.verified = verifiedToken{prov: prov, key: res.Key}, true
	expires := res.Claims.Expiry
	if expires == 0 {
		expires = now.Add(DefaultUncappedCacheTTL).Unix()
	}
	if s.cache != nil {
		s.cache.Add(key, s.bound.get(pol, o.vt), expires)
	}
	return s.revoked(prov, &o.claims)
}

func (s *Server) revoked(prov *Provider, c *claimsView) Reason {
	if s.rev == nil {
		return ReasonOK
	}
	return reasonFor(s.rev.Check(prov.Name(), c.jti, c.sid, c.sub, c.iat))
}

// claimsMatch reports whether every required claim has the wanted value:
// a string equal to it, an array containing it, or a number or boolean
// whose JSON form equals it.
func claimsMatch(payload jsontape.Value, want map[string]string) bool {
	for path, w := range want {
		v, ok := payload.Lookup(path)
		if !ok || !valueMatches(v, w) {
			return false
		}
	}
	return true
}

// valueMatches compares a claim with a wanted value as the claim's
// protobuf Value form reads: numbers as doubles printed without exponent
// (a number too large for a double compares as its JSON text).
func valueMatches(v jsontape.Value, want string) bool {
	switch v.Kind() {
	case jsontape.String:
		s, _ := v.String()
		return s == want
	case jsontape.Number:
		if f, ok := v.Float(); ok {
			return strconv.FormatFloat(f, 'f', -1, 64) == want
		}
		return str(v.Raw()) == want
	case jsontape.True:
		return want == "true"
	case jsontape.False:
		return want == "false"
	case jsontape.Array:
		for it := v.Iter(); it.Next(); {
			e := it.Value()
			if valueMatches(e, want) {
				return true
			}
		}
	}
	return false
}
