package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// verdict is the judgement of one request.
type verdict struct {
	transport            string
	class                class
	answer               answer
	replica              int
	tok                  *tok
	straddle             bool // the token's class changed during the request
	stale                bool // the replica was past max_staleness from start to end
	wrongAllow           bool
	wrongDeny            bool
	faultUnavailable     bool // a valid token got 503 or no answer while a fault touched the replica
	failClosedStale      bool // a valid token got store_unavailable, no fault running, from a replica whose metrics say it was failing closed or started to
	allowedBeforeApplied bool // a revoked token allowed before this replica applied the revocation
	lostReload           bool // no answer or 503 across a reload
	errorSteady          bool // no answer, or 503 for a token that is not valid, with no fault running
}

// stats counts verdicts and events; the must-be-zero columns keep the
// first examples for the failure message.
type stats struct {
	mu         sync.Mutex
	byClass    map[string]*[5]int // "grpc valid" -> allow, deny, unavailable, error, straddle
	counts     map[string]int
	faults     map[string]*faultStat
	mustZero   map[string]int
	examples   map[string][]string
	completed  atomic.Int64
	progress   chan struct{} // a signal every progressEvery requests (dropped while one is pending)
	replicaRow []string
	// storeFaults are the Redis faults' timelines, in order; refresh503s
	// every refresh answered 503, attributed to them by attribute.
	storeFaults []*storeFault
	refresh503s []refresh503
}

type faultStat struct {
	n     int
	total time.Duration
}

// The must-be-zero columns.
const (
	colWrongAllow = "wrong allows"
	colRevLost    = "revocations lost"
	colDoubleWin  = "refresh double wins"
	colWrongDeny  = "wrong denies of valid tokens (keys and store fresh)"
	colLostReload = "requests lost across reloads"
	// A refresh not answered 200 with no fault touching its replica,
	// other than a race's loser and the replica's own fail-closed past
	// max_staleness (see judgeRefresh).
	colWrongRefresh = "wrong refresh failures (store and keys fresh)"
	// A refresh answered 503 that started after its Redis fault's failover
	// was complete and the clients' grace to find the primary had passed,
	// while the fault's window was still open, other than the replica's
	// own fail-closed (see attribute).
	colLateRefresh = "refreshes failed closed past failover + grace"
	// Not a must-be-0 column: those the replica's revocation copy, past
	// max_staleness through the fault, failed closed until its next pull.
	colLateOwn = "refreshes failed closed past failover + grace: revocation copy still stale"
	// Not a must-be-zero column, but shown: a replica starved past
	// max_staleness with no fault running fails closed, as it must.
	colFailClosedStale = "fail-closed while stale (no fault): valid tokens store_unavailable"
	// The same for refreshes: 503 "revocation state unavailable".
	colRefreshStale = "fail-closed while stale (no fault): refreshes temporarily_unavailable"
	// A session set answered 201 whose answer does not name it or counts
	// other sessions than were sent.
	colSetMisanswered = "session sets answered 201 with a wrong answer"
	// Not must-be-0 columns: the session sets posted (setRevoker) and
	// those answered 201, whose tokens are revoked from then on.
	colSetsPosted = "session sets posted"
	colSetsAcked  = "session sets answered 201"
	progressEvery = 50
	maxExamples   = 10
)

var mustZeroCols = []string{colWrongAllow, colRevLost, colDoubleWin, colWrongDeny, colLostReload, colWrongRefresh, colLateRefresh, colSetMisanswered}

func newStats() *stats {
	s := &stats{byClass: map[string]*[5]int{}, counts: map[string]int{}, faults: map[string]*faultStat{},
		mustZero: map[string]int{}, examples: map[string][]string{}, progress: make(chan struct{}, 1)}
	for _, c := range mustZeroCols {
		s.mustZero[c] = 0
	}
	s.counts[colFailClosedStale] = 0
	s.counts[colRefreshStale] = 0
	s.counts[colSetsPosted] = 0
	s.counts[colSetsAcked] = 0
	return s
}

var answerCol = map[string]int{"allow": 0, "deny": 1, "unavailable": 2, "error": 3}

func (s *stats) record(v verdict) {
	s.mu.Lock()
	key := v.transport + " " + v.class.String()
	row := s.byClass[key]
	if row == nil {
		row = &[5]int{}
		s.byClass[key] = row
	}
	if v.straddle {
		row[4]++
	} else {
		row[answerCol[v.answer.kind]]++
	}
	what := fmt.Sprintf("%s %s token (%s) on replica %d: %s %s", v.transport, v.class, v.tok.kind, v.replica, v.answer.kind, v.answer.reason)
	if rec := v.tok.rev.Load(); rec != nil && rec.set != "" {
		what += fmt.Sprintf(" (its sid %s in session set %s, 201 at %s)", v.tok.sid, rec.set, rec.at.UTC().Format("15:04:05.000"))
	}
	if v.stale {
		what += " (past max_staleness)"
		s.counts["requests to a replica past max_staleness (all must fail closed)"]++
	}
	if v.wrongAllow {
		s.bad(colWrongAllow, what)
	}
	if v.wrongDeny {
		s.bad(colWrongDeny, what)
	}
	if v.lostReload {
		s.bad(colLostReload, what)
	}
	if v.faultUnavailable {
		s.counts["valid tokens answered 503 or not at all during a fault"]++
	}
	if v.failClosedStale {
		s.counts[colFailClosedStale]++
		if len(s.examples[colFailClosedStale]) < maxExamples {
			s.examples[colFailClosedStale] = append(s.examples[colFailClosedStale], time.Now().UTC().Format("15:04:05.000")+" "+what)
		}
	}
	if v.allowedBeforeApplied {
		s.counts["revoked tokens allowed before the replica applied the revocation"]++
	}
	if v.errorSteady {
		s.counts["no answer or 503 (not a valid token) with no fault running"]++
		if len(s.examples["steady errors"]) < maxExamples {
			s.examples["steady errors"] = append(s.examples["steady errors"], what)
		}
	}
	s.mu.Unlock()
	if s.completed.Add(1)%progressEvery == 0 {
		select {
		case s.progress <- struct{}{}:
		default:
		}
	}
}

// bad counts a must-be-zero event; the caller holds mu.
func (s *stats) bad(col, what string) {
	s.mustZero[col]++
	if len(s.examples[col]) < maxExamples {
		s.examples[col] = append(s.examples[col], time.Now().UTC().Format("15:04:05.000")+" "+what)
	}
}

func (s *stats) count(what string, n int) {
	s.mu.Lock()
	s.counts[what] += n
	s.mu.Unlock()
}

func (s *stats) doubleWin(what string) {
	s.mu.Lock()
	s.bad(colDoubleWin, what)
	s.mu.Unlock()
}

func (s *stats) setMisanswered(what string) {
	s.mu.Lock()
	s.bad(colSetMisanswered, what)
	s.mu.Unlock()
}

func (s *stats) revocationLost(what string) {
	s.mu.Lock()
	s.bad(colRevLost, what)
	s.mu.Unlock()
}

// refreshJudged counts a refresh not answered 200 by its verdict (see
// judgeRefresh).
func (s *stats) refreshJudged(verdict, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch verdict {
	case refreshWrong:
		s.bad(colWrongRefresh, what)
	case refreshStale:
		s.counts[colRefreshStale]++
		s.example(colRefreshStale, what)
	case refreshKeptIG:
		s.counts["refreshes: invalid_grant during a fault, session kept"]++
		s.example(refreshKeptIG, what)
	default:
		s.counts["refreshes not answered 200: "+verdict]++
	}
}

// example keeps one of the first examples of col; the caller holds mu.
func (s *stats) example(col, what string) {
	if len(s.examples[col]) < maxExamples {
		s.examples[col] = append(s.examples[col], time.Now().UTC().Format("15:04:05.000")+" "+what)
	}
}

func (s *stats) refreshFailedClosed(tr refreshTry, own bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh503s = append(s.refresh503s, refresh503{tr.t0, tr.t1, own,
		fmt.Sprintf("refresh on replica %d from %s to %s: %s", tr.r.idx, tr.t0.UTC().Format("15:04:05.000"), tr.t1.UTC().Format("15:04:05.000"), tr)})
}

func (s *stats) storeInjected(name string, at time.Time, grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeFaults = append(s.storeFaults, &storeFault{name: name, injected: at, grace: grace})
}

func (s *stats) storeFailedOver(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.storeFaults); n > 0 && s.storeFaults[n-1].failedOver.IsZero() {
		s.storeFaults[n-1].failedOver = at
	}
}

func (s *stats) storeRecovered(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.storeFaults); n > 0 && s.storeFaults[n-1].recovered.IsZero() {
		s.storeFaults[n-1].recovered = at
	}
}

// maxMean is the max and mean of durations, in seconds.
type maxMean struct {
	n        int
	max, sum time.Duration
}

func (m *maxMean) add(d time.Duration) { m.n, m.max, m.sum = m.n+1, max(m.max, d), m.sum+d }

func (m maxMean) String() string {
	return fmt.Sprintf("%5.2f / %5.2f", m.max.Seconds(), (m.sum / time.Duration(max(m.n, 1))).Seconds())
}

// storeSpan is what attribute finds for one Redis fault.
type storeSpan struct {
	duration, failover time.Duration
	n503               int
	span               time.Duration // first to last 503 answer attributed to it
	late, lateOwn      int
	lateOwnBy          time.Duration // the latest start of a lateOwn 503 after the failover
}

// attribute gives every refresh answered 503 to the Redis fault whose
// window (injection to observed recovery) it overlaps, and counts those
// that started after the fault's failover plus grace: the replica's own
// fail-closed (its revocation copy still past max_staleness) under
// colLateOwn, any other under colLateRefresh. It recomputes from the
// records each time; the caller holds mu.
func (s *stats) attribute(now time.Time) map[string][]storeSpan {
	out := map[string][]storeSpan{}
	late, lateOwn := 0, 0
	s.examples[colLateRefresh] = nil
	s.examples[colLateOwn] = nil
	for _, f := range s.storeFaults {
		end, over := f.recovered, f.failedOver
		if end.IsZero() {
			end = now
		}
		if over.IsZero() {
			over = end
		}
		sp := storeSpan{duration: end.Sub(f.injected), failover: over.Sub(f.injected)}
		var first, last time.Time
		for _, r := range s.refresh503s {
			if r.t0.After(end) || r.t1.Before(f.injected) {
				continue
			}
			sp.n503++
			if first.IsZero() || r.t1.Before(first) {
				first = r.t1
			}
			if r.t1.After(last) {
				last = r.t1
			}
			if r.t0.After(over.Add(f.grace)) {
				col := colLateRefresh
				if r.own {
					col = colLateOwn
					sp.lateOwn++
					sp.lateOwnBy = max(sp.lateOwnBy, r.t0.Sub(over))
				} else {
					sp.late++
				}
				if len(s.examples[col]) < maxExamples {
					s.examples[col] = append(s.examples[col], fmt.Sprintf("%s, %s after the failover of %s (injected %s) was complete",
						r.what, r.t0.Sub(over).Round(time.Millisecond), f.name, f.injected.UTC().Format("15:04:05.000")))
				}
			}
		}
		sp.span = last.Sub(first)
		late += sp.late
		lateOwn += sp.lateOwn
		out[f.name] = append(out[f.name], sp)
	}
	s.mustZero[colLateRefresh] = late
	s.counts[colLateOwn] = lateOwn
	return out
}

func (s *stats) fault(name string, d time.Duration) {
	s.mu.Lock()
	f := s.faults[name]
	if f == nil {
		f = &faultStat{}
		s.faults[name] = f
	}
	f.n++
	f.total += d
	s.mu.Unlock()
}

// report renders the table.
func (s *stats) report(head string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", head)
	fmt.Fprintf(&b, "%-28s %6s %10s\n", "fault", "runs", "mean")
	for _, name := range slices.Sorted(maps.Keys(s.faults)) {
		f := s.faults[name]
		fmt.Fprintf(&b, "%-28s %6d %10s\n", name, f.n, (f.total / time.Duration(f.n)).Round(time.Millisecond))
	}
	if spans := s.attribute(time.Now()); len(spans) > 0 {
		fmt.Fprintf(&b, "\nRedis faults, max / mean in seconds: injection to recovery, to failover complete, first to last refresh 503;\n"+
			"refreshes answered 503, those past failover + grace, and those the replica's stale revocation copy failed closed past it (latest start after the failover)\n")
		fmt.Fprintf(&b, "%-28s %4s %13s %13s %13s %6s %6s %14s\n", "fault", "runs", "duration", "failover", "refresh 503s", "503s", "late", "stale copy")
		for _, name := range slices.Sorted(maps.Keys(spans)) {
			var d, fo, sp maxMean
			n503, late, lateOwn, lateOwnBy := 0, 0, 0, time.Duration(0)
			for _, x := range spans[name] {
				d.add(x.duration)
				fo.add(x.failover)
				sp.add(x.span)
				n503 += x.n503
				late += x.late
				lateOwn += x.lateOwn
				lateOwnBy = max(lateOwnBy, x.lateOwnBy)
			}
			fmt.Fprintf(&b, "%-28s %4d %13s %13s %13s %6d %6d %4d (%5.2f s)\n", name, len(spans[name]), d, fo, sp, n503, late, lateOwn, lateOwnBy.Seconds())
		}
	}
	fmt.Fprintf(&b, "\n%-20s %9s %9s %11s %9s %9s\n", "requests", "allow", "deny", "unavailable", "error", "straddle")
	total := 0
	for _, key := range slices.Sorted(maps.Keys(s.byClass)) {
		r := s.byClass[key]
		fmt.Fprintf(&b, "%-20s %9d %9d %11d %9d %9d\n", key, r[0], r[1], r[2], r[3], r[4])
		total += r[0] + r[1] + r[2] + r[3] + r[4]
	}
	fmt.Fprintf(&b, "%-20s %9d\n\n", "all", total)
	for _, k := range slices.Sorted(maps.Keys(s.counts)) {
		fmt.Fprintf(&b, "%-70s %9d\n", k, s.counts[k])
	}
	b.WriteString("\nmust be 0\n")
	for _, c := range mustZeroCols {
		fmt.Fprintf(&b, "  %-68s %9d\n", c, s.mustZero[c])
	}
	if len(s.replicaRow) > 0 {
		fmt.Fprintf(&b, "\n%-8s %9s %22s %26s\n", "replica", "restarts", "goroutines before/after", "RSS MiB before/after")
		for _, r := range s.replicaRow {
			b.WriteString(r + "\n")
		}
	}
	for _, c := range append(slices.Clone(mustZeroCols), colFailClosedStale, colRefreshStale, colLateOwn, refreshKeptIG, "steady errors") {
		if ex := s.examples[c]; len(ex) > 0 {
			fmt.Fprintf(&b, "\nfirst %s:\n  %s\n", c, strings.Join(ex, "\n  "))
		}
	}
	return b.String()
}
