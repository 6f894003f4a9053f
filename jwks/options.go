package jwks

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults applied to zero Options fields.
const (
	DefaultRefreshInterval    = 5 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultMaxStale           = 24 * time.Hour
)

// Internal timings.
const (
	// fetchTimeout bounds one fetch, discovery included, whatever client
	// was injected.
	fetchTimeout = 10 * time.Second
	// defaultPollInterval is how often a JWKS file is checked for changes.
	defaultPollInterval = 2 * time.Second
)

// Options configures a Source. Exactly one of JWKSURI, Discovery and File
// selects where the keys come from.
type Options struct {
	// Provider names the provider in metrics labels and logs. Required.
	Provider string
	// Issuer is the provider's issuer URL; Discovery reads
	// <Issuer>/.well-known/openid-configuration and requires the document's
	// "issuer" to equal it exactly.
	Issuer string
	// JWKSURI is the https URL of the JWKS.
	JWKSURI string
	// Discovery takes the JWKS URL from the issuer's OpenID configuration.
	Discovery bool
	// File is a local JWKS file, reloaded when its content changes.
	File string

	// RefreshInterval is the longest time between two fetches (default 5m).
	// A Cache-Control max-age is honoured between MinRefreshInterval and
	// this.
	RefreshInterval time.Duration
	// MinRefreshInterval is the shortest time between two fetches (default
	// 30s): the first retry after a failure, and the floor for the refetch
	// an unknown kid triggers.
	MinRefreshInterval time.Duration
	// MaxStale is how long the last good keys keep serving while fetches
	// fail (default 24h); past it Key returns ErrUnavailable.
	MaxStale time.Duration
	// AllowHTTP permits http:// URLs for hosts other than loopback
	// (127.0.0.0/8, ::1, localhost).
	AllowHTTP bool

	// HTTPClient makes the requests. Its redirect policy is replaced by this
	// package's (at most 3 redirects, never to a URL the scheme rules
	// refuse); a zero Timeout becomes 10s. Default: a client with TLS 1.2+,
	// proxy settings from the environment and 10s timeouts.
	HTTPClient *http.Client
	// Logger receives lifecycle and degradation logs. Default: discarded.
	Logger *slog.Logger
	// Metrics is shared by all sources of a process. Default: metrics that
	// are not registered anywhere.
	Metrics *Metrics
	// Clock returns the current time; tests set it. Default: time.Now.
	Clock func() time.Time
	// Tracer, when set, records a span for every fetch of a remote JWKS
	// (discovery included); nil records none.
	Tracer trace.Tracer
	// OnChange, when set, is called after the outcome of every fetch is
	// published (keys, freshness and Status), from the goroutine that
	// fetched; readiness follows the source through it. It must not block.
	OnChange func()
}

// withDefaults returns o with zero fields defaulted, or an error naming every
// problem.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if strings.TrimSpace(o.Provider) == "" {
		errs = append(errs, errors.New("provider name is empty"))
	}

	sources := 0
	for _, set := range []bool{o.JWKSURI != "", o.Discovery, o.File != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		errs = append(errs, errors.New("exactly one of jwks_uri, discovery and jwks_file must be set"))
	}
	if o.JWKSURI != "" {
		if _, err := checkURL(o.JWKSURI, o.AllowHTTP); err != nil {
			errs = append(errs, fmt.Errorf("jwks_uri: %w", err))
		}
	}
	if o.Discovery {
		if o.Issuer == "" {
			errs = append(errs, errors.New("discovery needs an issuer"))
		} else if _, err := checkURL(discoveryURL(o.Issuer), o.AllowHTTP); err != nil {
			errs = append(errs, fmt.Errorf("issuer: %w", err))
		}
	}

	o.RefreshInterval = orDefault(o.RefreshInterval, DefaultRefreshInterval)
	o.MinRefreshInterval = orDefault(o.MinRefreshInterval, DefaultMinRefreshInterval)
	o.MaxStale = orDefault(o.MaxStale, DefaultMaxStale)
	switch {
	case o.RefreshInterval < 0, o.MinRefreshInterval < 0, o.MaxStale < 0:
		errs = append(errs, errors.New("refresh intervals and max stale must not be negative"))
	case o.MinRefreshInterval > o.RefreshInterval:
		errs = append(errs, fmt.Errorf("min refresh interval %s exceeds refresh interval %s", o.MinRefreshInterval, o.RefreshInterval))
	case o.MaxStale < o.RefreshInterval:
		// Keys would go stale between two regular refreshes.
		errs = append(errs, fmt.Errorf("max stale %s is shorter than refresh interval %s", o.MaxStale, o.RefreshInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("jwks provider %q: %w", o.Provider, err)
	}

	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// discoveryURL is where OpenID Connect Discovery 1.0 (section 4) places the
// configuration of issuer.
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// location is the human-readable origin of the keys, for Status and logs:
// never includes URL credentials.
func (o Options) location() string {
	switch {
	case o.File != "":
		return o.File
	case o.Discovery:
		return redact(discoveryURL(o.Issuer))
	default:
		return redact(o.JWKSURI)
	}
}

// redact removes a password from a URL before it is shown.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}
