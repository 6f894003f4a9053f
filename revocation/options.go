package revocation

import (
	"io"
	"log/slog"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxStaleness  = 5 * time.Minute
	DefaultSyncInterval  = 30 * time.Second
	DefaultProbeInterval = time.Second
	DefaultSweepInterval = time.Minute
)

// startTimeout bounds the initial load in NewService.
const startTimeout = 30 * time.Second

// Options configure a Service. The zero value is usable.
type Options struct {
	// MaxStaleness is how long the local copy keeps serving while a shared
	// store is unreachable; past it, Check returns ErrUnavailable and Ready
	// reports why. Default DefaultMaxStaleness. Ignored for local stores.
	MaxStaleness time.Duration
	// SyncInterval is how often a Service with a shared store considers a
	// full resync, the safety net behind the subscription and the
	// incremental pulls: it lists everything at the first tick after a
	// resubscription or a failed pull, and otherwise once every 60 to 90
	// intervals (see Service.Run). Default DefaultSyncInterval.
	SyncInterval time.Duration
	// ProbeInterval is how often a shared store is probed: an incremental
	// pull of what was written since the last one, which also detects a
	// store that restarted without its data and measures reachability.
	// Default DefaultProbeInterval, and never more than MaxStaleness/4.
	ProbeInterval time.Duration
	// SweepInterval is how often expired entries are dropped from the
	// index and deleted from the store. Default DefaultSweepInterval.
	SweepInterval time.Duration
	// Logger receives lifecycle, degradation and audit lines. Default:
	// discard.
	Logger *slog.Logger
	// Metrics records the revocation metrics; nil records nothing.
	Metrics *Metrics
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// OnChange, when set, is called when Readiness may have changed other
	// than by the passing of time: the first successful pull, and the first
	// after failures. It must not block or call the Service.
	OnChange func()
}

func (o Options) withDefaults() Options {
	if o.MaxStaleness <= 0 {
		o.MaxStaleness = DefaultMaxStaleness
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	o.ProbeInterval = max(min(o.ProbeInterval, o.MaxStaleness/4), time.Millisecond)
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}
