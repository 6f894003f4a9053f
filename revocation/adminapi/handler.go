package adminapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// TokenInspector verifies a token's signature against any configured
// provider, ignoring its claims (an expired token passes), and returns its
// jti and exp (0 when absent). It returns an error for a token whose
// signature does not verify.
type TokenInspector interface {
	Inspect(ctx context.Context, raw string) (jti string, exp int64, err error)
}

// Defaults for the options.
const (
	// DefaultJTISkew is added to a token's exp to get its entry's expiry.
	DefaultJTISkew = 30 * time.Second
	// DefaultSessionTTL is how long sid and sub entries live: the default
	// refresh_token_ttl.
	DefaultSessionTTL = 336 * time.Hour
	// MaxBodyBytes is the largest request body accepted.
	MaxBodyBytes = 64 << 10
)

// horizon bounds how far ahead exp and before may be.
const horizon = 10 * 365 * 24 * time.Hour

// Option configures the handler.
type Option func(*handler)

// WithJTISkew sets the clock skew added to a jti entry's exp (the largest
// clock_skew of the providers). Default DefaultJTISkew.
func WithJTISkew(d time.Duration) Option {
	return func(h *handler) {
		if d >= 0 {
			h.skew = d
		}
	}
}

// WithSessionTTL sets the lifetime of sid and sub entries
// (issuer.refresh_token_ttl). Default DefaultSessionTTL.
func WithSessionTTL(d time.Duration) Option {
	return func(h *handler) {
		if d > 0 {
			h.sessionTTL = d
		}
	}
}

// WithClock sets the clock. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(h *handler) {
		if now != nil {
			h.now = now
		}
	}
}

// WithKnownProviders sets how to tell a configured provider name ("self"
// included when the built-in issuer runs) from another: a request naming
// an unknown provider is refused with 400. known is asked on every such
// request, so it can follow configuration reloads. Without it, any
// well-formed provider name is accepted.
func WithKnownProviders(known func(name string) bool) Option {
	return func(h *handler) { h.known = known }
}

type handler struct {
	svc        *revocation.Service
	known      func(name string) bool // nil: any well-formed name
	inspector  TokenInspector
	log        *slog.Logger
	skew       time.Duration
	sessionTTL time.Duration
	now        func() time.Time
}

// New returns the handler for POST /admin/revocations,
// POST /admin/revocations/sessions (a session set, see
// NDJSONContentType) and GET /admin/revocations/{jti}. inspector may be nil, which disables the
// token form; logger may be nil. With a nil svc every request gets 503.
func New(svc *revocation.Service, inspector TokenInspector, logger *slog.Logger, opts ...Option) http.Handler {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if svc == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "revocation is not configured")
		})
	}
	h := &handler{
		svc:        svc,
		inspector:  inspector,
		log:        logger,
		skew:       DefaultJTISkew,
		sessionTTL: DefaultSessionTTL,
		now:        time.Now,
	}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/revocations", h.create)
	mux.HandleFunc("POST /admin/revocations/sessions", h.createSessions)
	mux.HandleFunc("GET /admin/revocations/{jti}", h.get)
	return mux
}
