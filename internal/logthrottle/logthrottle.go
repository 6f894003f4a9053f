package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Default intervals between summary lines.
const (
	DefaultInitial = 10 * time.Second
	DefaultMax     = 10 * time.Minute
)

// Option configures a Throttle.
type Option func(*Throttle)

// WithIntervals sets the first interval between summary lines and the
// largest it doubles to. Defaults DefaultInitial and DefaultMax.
func WithIntervals(initial, maxInterval time.Duration) Option {
	return func(t *Throttle) {
		if initial > 0 {
			t.initial = initial
		}
		if maxInterval >= t.initial {
			t.max = maxInterval
		}
	}
}

// WithClock sets the clock. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(t *Throttle) {
		if now != nil {
			t.now = now
		}
	}
}

// Throttle logs one kind of repeating failure: the first occurrence of a
// run, then a summary line at a slowing interval.
type Throttle struct {
	log          *slog.Logger
	level        slog.Level
	msg          string
	initial, max time.Duration
	now          func() time.Time

	mu       sync.Mutex
	failing  bool
	since    time.Time     // first occurrence of the run
	last     time.Time     // latest occurrence
	total    int           // occurrences in the run
	pending  int           // occurrences not yet in a line
	next     time.Time     // earliest time of the next summary line
	interval time.Duration // the wait after the next line
}

// New returns a Throttle that logs msg at level to log (nil logs nothing).
func New(log *slog.Logger, level slog.Level, msg string, opts ...Option) *Throttle {
	t := &Throttle{log: log, level: level, msg: msg, initial: DefaultInitial, max: DefaultMax, now: time.Now}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Error records one occurrence of the failure. The first of a run is
// logged with err and args; later ones are counted, and logged as one
// line with the count ("repeated"), the run's length ("failing_for") and
// the latest err once the interval has passed. It reports whether it
// logged.
func (t *Throttle) Error(err error, args ...any) bool {
	now := t.now()
	t.mu.Lock()
	if t.failing && now.Sub(t.last) > t.max {
		// Quiet for longer than the longest interval: the failure had
		// ended unseen (no Resolve), and this is a new one.
		t.failing, t.total, t.pending = false, 0, 0
	}
	t.last = now
	t.total++
	t.pending++
	if t.failing && now.Before(t.next) {
		t.mu.Unlock()
		return false
	}
	first := !t.failing
	if first {
		t.failing = true
		t.since = now
		t.interval = t.initial
	}
	repeated, failingFor := t.pending-1, now.Sub(t.since)
	t.pending = 0
	t.next = now.Add(t.interval)
	t.interval = min(2*t.interval, t.max)
	t.mu.Unlock()

	if t.log == nil {
		return true
	}
	attrs := make([]any, 0, len(args)+6)
	attrs = append(attrs, "err", err)
	if !first {
		attrs = append(attrs, "repeated", repeated, "failing_for", failingFor.Round(time.Second).String())
	}
	attrs = append(attrs, args...)
	t.log.Log(context.Background(), t.level, t.msg, attrs...)
	return true
}

// Resolve ends a run of failures. Without it, a run ends when no failure
// has come for the longest interval. It returns how many occurrences the run
// had and how long it lasted, or 0 and 0 when none was under way, so the
// caller can log the recovery once.
func (t *Throttle) Resolve() (occurrences int, lasted time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.failing {
		return 0, 0
	}
	occurrences, lasted = t.total, now.Sub(t.since)
	t.failing, t.total, t.pending = false, 0, 0
	return occurrences, lasted
}

// Failing reports whether a run of failures is under way.
func (t *Throttle) Failing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failing
}
