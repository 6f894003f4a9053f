package jwks

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// fetchResult is what one fetch brought back, before it is applied.
type fetchResult struct {
	body        []byte // a document to apply; nil when notModified or err
	notModified bool
	maxAge      time.Duration
	hasMaxAge   bool
	etag        string
	modified    string // Last-Modified, verbatim
	err         error
	// polled: a JWKS file was looked at but not read, as nothing changed;
	// not counted as a fetch.
	polled bool
}

// apply publishes the outcome of a fetch: the new set, freshness, schedule,
// metrics and logs. It returns the fetch's error, if any.
func (s *Source) apply(res fetchResult) error {
	now := s.opts.Clock()
	prev := s.set.Load()
	err := res.err
	result := resultError
	var (
		parsed         parsedSet
		added, removed []*Key
		changed        bool
	)

	switch {
	case err != nil:
	case res.notModified:
		if prev == nil {
			err = errors.New("fetch jwks: not modified, but no key set was loaded")
			break
		}
		result = resultNotModified
		if res.etag != "" {
			s.remote.etag = res.etag
		}
	default:
		sum := sha256.Sum256(res.body)
		if prev != nil && sum == s.appliedHash {
			// The same document again: nothing to parse or log.
			result = resultSuccess
			s.remote.etag, s.remote.modified = res.etag, res.modified
			break
		}
		parsed, err = parseSet(res.body)
		if err == nil || errors.Is(err, ErrNoUsableKeys) {
			s.mu.Lock()
			s.skipped = skippedKeys(parsed.notes)
			s.mu.Unlock()
		}
		if err != nil {
			if sum == s.rejectedHash {
				parsed.notes = nil // logged when this document first came
			}
			s.rejectedHash = sum
			break
		}
		var next *keySet
		next, added, removed = merge(prev, parsed.keys)
		s.lastSuccess.Store(&now)
		s.set.Store(next)
		// Marked only once no reader can obtain them from the current set.
		for _, k := range removed {
			k.MarkRemoved()
		}
		s.appliedHash = sum
		s.rejectedHash = [32]byte{} // a refused document that comes back is news again
		s.remote.etag, s.remote.modified = res.etag, res.modified
		changed = true
		result = resultSuccess
	}
	if res.body != nil {
		s.file.applyErr = err
	}
	if err != nil && s.opts.Discovery {
		// The JWKS URL may have moved: look it up again next time.
		s.remote.jwksURL = nil
	}
	if err == nil {
		if !changed {
			s.lastSuccess.Store(&now)
		}
		s.opts.Metrics.setLastSuccess(s.opts.Provider, float64(now.UnixNano())/1e9)
	}
	if !res.polled {
		s.opts.Metrics.observe(s.opts.Provider, result)
	}
	if ks := s.set.Load(); ks != nil {
		s.opts.Metrics.setKeys(s.opts.Provider, len(ks.all))
	}

	delay, repeated := s.schedule(err, res)
	s.logNotes(parsed.notes)
	if changed {
		s.log.Info("jwks keys updated",
			"keys", len(s.set.Load().all), "added", kids(added), "removed", kids(removed))
	}
	if err != nil {
		s.logFailure(err, now, delay, repeated)
	}
	return err
}

// schedule records the outcome in the status and decides when the loop
// fetches next: after a success at the Cache-Control max-age clamped to
// [MinRefreshInterval, RefreshInterval], or RefreshInterval without one;
// after a failure with a backoff from MinRefreshInterval doubling up to
// RefreshInterval. File sources are polled at a fixed period. repeated
// reports an error identical to the previous attempt's.
func (s *Source) schedule(err error, res fetchResult) (delay time.Duration, repeated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
		repeated = msg == s.lastErr
		s.failures++
	} else {
		s.failures = 0
	}
	s.lastErr = msg

	switch {
	case s.opts.File != "":
		delay = s.pollInterval
	case err != nil:
		delay = backoff(s.opts.MinRefreshInterval, s.opts.RefreshInterval, s.failures)
	case res.hasMaxAge:
		delay = clamp(res.maxAge, s.opts.MinRefreshInterval, s.opts.RefreshInterval)
	default:
		delay = s.opts.RefreshInterval
	}
	if s.opts.File == "" {
		delay = max(s.jitter(delay), s.opts.MinRefreshInterval)
	}
	s.dueAt = time.Now().Add(delay)
	if !s.stopped {
		s.nextFetch = s.opts.Clock().Add(delay)
	}
	return delay, repeated
}

// backoff is the delay after the given number of consecutive failures.
func backoff(minDelay, maxDelay time.Duration, failures int) time.Duration {
	d := minDelay
	for i := 1; i < failures && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

// logFailure logs a failed fetch: a warning while the last good keys still
// serve, an error once nothing does. A file that keeps failing the same way
// is logged once, then at debug level on every poll.
func (s *Source) logFailure(err error, now time.Time, retry time.Duration, repeated bool) {
	level := slog.LevelWarn
	msg := "jwks fetch failed; serving the last good keys"
	attrs := []any{"err", err, "retry_in", retry.String()}
	if p := s.lastSuccess.Load(); p != nil {
		attrs = append(attrs, "stale_for", now.Sub(*p).Round(time.Second).String())
	}
	if !s.fresh() || s.set.Load() == nil {
		level = slog.LevelError
		msg = "jwks fetch failed; no usable keys"
	}
	if repeated && s.opts.File != "" {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, msg, attrs...)
}

// logNotes logs and counts the remarks about single keys of a new
// document. Documents are parsed only when they change, so each remark is
// logged once per change.
func (s *Source) logNotes(notes []keyNote) {
	for _, n := range notes {
		if !n.skipped {
			s.log.Warn("jwks key has a defect", "kid", n.kid, "index", n.index, "detail", n.message)
			continue
		}
		s.opts.Metrics.skip(s.opts.Provider, n.reason)
		s.log.Warn("jwks key skipped", "kid", n.kid, "index", n.index, "reason", n.reason, "detail", n.message)
	}
}

// maxLoggedKIDs bounds the kids listed in one log line.
const maxLoggedKIDs = 20

// kids lists the ids of keys for a log line.
func kids(keys []*Key) []string {
	out := make([]string, 0, min(len(keys), maxLoggedKIDs+1))
	for i, k := range keys {
		if i == maxLoggedKIDs {
			out = append(out, fmt.Sprintf("... %d more", len(keys)-i))
			break
		}
		out = append(out, clip(k.ID))
	}
	return out
}
