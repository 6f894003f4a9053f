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
	// Not a must-be-zero column, but shown: a replica starved past
	// max_staleness with no fault running fails closed, as it must.
	colFailClosedStale = "fail-closed while stale (no fault): valid tokens store_unavailable"
	progressEvery      = 50
	maxExamples        = 10
)

var mustZeroCols = []string{colWrongAllow, colRevLost, colDoubleWin, colWrongDeny, colLostReload}

func newStats() *stats {
	s := &stats{byClass: map[string]*[5]int{}, counts: map[string]int{}, faults: map[string]*faultStat{},
		mustZero: map[string]int{}, examples: map[string][]string{}, progress: make(chan struct{}, 1)}
	for _, c := range mustZeroCols {
		s.mustZero[c] = 0
	}
	s.counts[colFailClosedStale] = 0
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

func (s *stats) revocationLost(what string) {
	s.mu.Lock()
	s.bad(colRevLost, what)
	s.mu.Unlock()
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
	for _, c := range append(slices.Clone(mustZeroCols), colFailClosedStale, "steady errors") {
		if ex := s.examples[c]; len(ex) > 0 {
			fmt.Fprintf(&b, "\nfirst %s:\n  %s\n", c, strings.Join(ex, "\n  "))
		}
	}
	return b.String()
}
