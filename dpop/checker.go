package dpop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/jwt-authz/jwt-authz/token"
)

// MaxProofBytes bounds a DPoP header: an RSA-8192 key and signature, the
// largest a proof may carry, fit with room to spare.
const MaxProofBytes = 8 << 10

// maxJTIBytes bounds a proof's jti, which the replay cache keeps.
const maxJTIBytes = 256

// DefaultMaxAge is a proof's default maximum age (dpop_proof_max_age).
const DefaultMaxAge = 60 * time.Second

// keyCacheEntries bounds the decoded proof headers kept, one per client
// key in use.
const keyCacheEntries = 4096

// ReplayCache remembers the jti of every accepted proof until the proof
// could no longer be accepted anyway. Claim returns first true exactly
// once per scope and id until until; an error means it could not tell,
// and the proof is refused.
type ReplayCache interface {
	Claim(ctx context.Context, scope, id string, until time.Time) (first bool, err error)
}

// Config is one provider's rules for proofs.
type Config struct {
	// Provider names the provider; proofs' jtis are claimed in the replay
	// scope "dpop:<Provider>".
	Provider string
	// Algorithms are the JWS algorithms a proof may be signed with; only
	// asymmetric ones are accepted. Empty means token.DefaultAlgorithms.
	Algorithms []string
	// MaxAge is how long after its iat a proof is accepted (default
	// DefaultMaxAge); ClockSkew widens the window on both sides.
	MaxAge    time.Duration
	ClockSkew time.Duration
	// Replay remembers the jtis of accepted proofs; required.
	Replay ReplayCache
	// Nonces, when set, requires every proof to carry a current server
	// nonce (RFC 9449 §8).
	Nonces *Nonces
}

// Checker checks the proofs of one provider. It is safe for concurrent
// use.
type Checker struct {
	algs   token.AlgorithmSet
	names  []string // the allowed algorithms, for the algs challenge parameter
	maxAge time.Duration
	skew   time.Duration
	replay ReplayCache
	scope  string
	nonces *Nonces
	keys   *lru.Cache[string, *proofKey]
}

// New builds a Checker.
func New(cfg Config) (*Checker, error) {
	if cfg.Replay == nil {
		return nil, fmt.Errorf("dpop: provider %s: no replay cache", cfg.Provider)
	}
	names := cfg.Algorithms
	if len(names) == 0 {
		names = token.DefaultAlgorithms
	}
	algs, err := token.NewAlgorithmSet(names)
	if err != nil {
		return nil, fmt.Errorf("dpop: provider %s: %w", cfg.Provider, err)
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.ClockSkew < 0 {
		return nil, fmt.Errorf("dpop: provider %s: negative clock skew", cfg.Provider)
	}
	keys, err := lru.New[string, *proofKey](keyCacheEntries)
	if err != nil {
		return nil, err
	}
	return &Checker{
		algs: algs, names: append([]string(nil), names...), maxAge: cfg.MaxAge, skew: cfg.ClockSkew,
		replay: cfg.Replay, scope: "dpop:" + cfg.Provider, nonces: cfg.Nonces, keys: keys,
	}, nil
}

// Algorithms are the algorithms a proof may use, as configured.
func (c *Checker) Algorithms() []string { return c.names }

// Nonces are the server nonces the checker requires, or nil.
func (c *Checker) Nonces() *Nonces { return c.nonces }

// Request is what a proof must match.
type Request struct {
	// Method is the request's method as sent; htm must equal it.
	Method string
	// URI is the request's URI in CanonicalURI's form; htu must equal it
	// once normalized the same way.
	URI string
	// AccessToken is the token presented with the proof, which ath must
	// hash to; "" at the token endpoint, where ath is not checked.
	AccessToken string
	// JKT is the thumbprint the access token is bound to (cnf.jkt); the
	// proof's key must have it. "" accepts any key (the token endpoint
	// binds what it issues to the proof's key).
	JKT string
}

// Proof is what an accepted proof shows.
type Proof struct {
	JKT      string // the RFC 7638 SHA-256 thumbprint of the proof's key, base64url
	JTI      string
	IssuedAt time.Time
	// NextNonce, when set, is a fresh server nonce for the answer's
	// DPoP-Nonce header: the proof's nonce has at most one window of its
	// life left (RFC 9449 §8.2). Empty without server nonces, and while
	// the proof's nonce is the current one.
	NextNonce string
}

// b64 decodes segments in canonical base64url only: no padding, no line
// breaks, unused bits zero.
var b64 = base64.RawURLEncoding.Strict()

// Check verifies proof, the value of the request's one DPoP header,
// against req at now, and claims its jti. Errors wrap ErrInvalidProof,
// ErrUseNonce or ErrReplayUnavailable.
func (c *Checker) Check(ctx context.Context, proof string, req Request, now time.Time) (Proof, error) {
	if proof == "" {
		return Proof{}, invalid("no DPoP proof")
	}
	if len(proof) > MaxProofBytes {
		return Proof{}, invalid("proof larger than %d bytes", MaxProofBytes)
	}
	h64, rest, ok1 := strings.Cut(proof, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return Proof{}, invalid("not a compact JWS")
	}
	pk, err := c.header(h64)
	if err != nil {
		return Proof{}, err
	}
	if !c.algs.Has(pk.alg) {
		return Proof{}, invalid("alg %s is not accepted", pk.alg)
	}
	if req.JKT != "" && subtle.ConstantTimeCompare([]byte(pk.key.Thumbprint), []byte(req.JKT)) != 1 {
		return Proof{}, invalid("the proof's key is not the key the token is bound to")
	}
	sig, err := b64.DecodeString(s64)
	if err != nil || len(sig) == 0 {
		return Proof{}, invalid("signature is not canonical base64url")
	}
	if !token.VerifySignature(pk.alg, pk.key, []byte(proof[:len(h64)+1+len(p64)]), sig) {
		return Proof{}, invalid("bad signature")
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return Proof{}, invalid("payload is not canonical base64url")
	}
	cl, err := readClaims(payload)
	if err != nil {
		return Proof{}, err
	}
	if cl.HTM != req.Method {
		return Proof{}, invalid("htm is not the request's method")
	}
	if htu, ok := canonicalHTU(cl.HTU); !ok || htu != req.URI {
		return Proof{}, invalid("htu is not the request's URI")
	}
	iat := time.Unix(int64(*cl.IAT), 0)
	if iat.After(now.Add(c.skew)) {
		return Proof{}, invalid("iat is in the future")
	}
	if iat.Add(c.maxAge + c.skew).Before(now) {
		return Proof{}, invalid("iat is too old")
	}
	if req.AccessToken != "" {
		if cl.ATH == nil || !athMatches(*cl.ATH, req.AccessToken) {
			return Proof{}, invalid("ath is not the hash of the access token")
		}
	}
	var staleNonce bool
	if c.nonces != nil {
		var ok bool
		if cl.Nonce != nil {
			ok, staleNonce = c.nonces.check(*cl.Nonce, now)
		}
		if !ok {
			return Proof{}, fmt.Errorf("%w: no current server nonce", ErrUseNonce)
		}
	}
	first, err := c.replay.Claim(ctx, c.scope, cl.JTI, iat.Add(c.maxAge+c.skew+time.Second))
	if err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrReplayUnavailable, err)
	}
	if !first {
		return Proof{}, invalid("jti already used")
	}
	p := Proof{JKT: pk.key.Thumbprint, JTI: cl.JTI, IssuedAt: iat}
	if staleNonce {
		p.NextNonce = c.nonces.Current(now)
	}
	return p, nil
}

// header returns the decoded header h64, from the cache when the same
// header was seen before.
func (c *Checker) header(h64 string) (*proofKey, error) {
	if pk, ok := c.keys.Get(h64); ok {
		return pk, nil
	}
	decoded, err := b64.DecodeString(h64)
	if err != nil {
		return nil, invalid("header is not canonical base64url")
	}
	pk, err := readHeader(decoded)
	if err != nil {
		return nil, err
	}
	// h64 may point into a request buffer that is reused: keep a copy.
	c.keys.Add(strings.Clone(h64), pk)
	return pk, nil
}

// claims are a proof's payload members (RFC 9449 §4.2).
type claims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   *string  `json:"ath"`
	Nonce *string  `json:"nonce"`
}

func readClaims(payload []byte) (claims, error) {
	var cl claims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return cl, invalid("payload is not a JSON object of the DPoP claims")
	}
	switch {
	case cl.JTI == "":
		return cl, invalid("no jti")
	case len(cl.JTI) > maxJTIBytes:
		return cl, invalid("jti longer than %d bytes", maxJTIBytes)
	case cl.HTM == "":
		return cl, invalid("no htm")
	case cl.HTU == "":
		return cl, invalid("no htu")
	case cl.IAT == nil || math.IsNaN(*cl.IAT) || *cl.IAT < 0 || *cl.IAT > 1<<53:
		return cl, invalid("no iat")
	}
	return cl, nil
}

// athMatches compares ath with base64url(SHA-256(token)) in constant time.
func athMatches(ath, token string) bool {
	sum := sha256.Sum256([]byte(token))
	var want [43]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	return subtle.ConstantTimeCompare([]byte(ath), want[:]) == 1
}

// ATH is the ath claim of a proof presented with token.
func ATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
