package logthrottle_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newThrottle(t *testing.T) (*logthrottle.Throttle, *fakeClock, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	th := logthrottle.New(log, slog.LevelWarn, "store unreachable",
		logthrottle.WithClock(clock.Now), logthrottle.WithIntervals(10*time.Second, 40*time.Second))
	return th, clock, &buf
}

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func TestThrottleFirstThenSlowingSummaries(t *testing.T) {
	th, clock, buf := newThrottle(t)
	errDown := errors.New("connection refused")

	// Two occurrences a second, as a retry loop makes them, for 3 minutes.
	var logged []time.Duration
	start := clock.Now()
	for range 360 {
		if th.Error(errDown, "addr", "redis:6379") {
			logged = append(logged, clock.Now().Sub(start))
		}
		clock.Add(500 * time.Millisecond)
	}
	// First at once, then after 10s, 20s, 40s, 40s, ...
	want := []time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second, 110 * time.Second, 150 * time.Second}
	if len(logged) != len(want) {
		t.Fatalf("logged at %v, want %v", logged, want)
	}
	for i := range want {
		if logged[i] != want[i] {
			t.Fatalf("logged at %v, want %v", logged, want)
		}
	}
	got := lines(t, buf)
	if got[0]["msg"] != "store unreachable" || got[0]["level"] != "WARN" || got[0]["err"] != "connection refused" || got[0]["addr"] != "redis:6379" {
		t.Errorf("first line %v", got[0])
	}
	if _, ok := got[0]["repeated"]; ok {
		t.Errorf("first line has a count: %v", got[0])
	}
	// The second line summarizes the 19 occurrences after the first.
	if got[1]["repeated"] != float64(19) || got[1]["failing_for"] != "10s" || got[1]["addr"] != "redis:6379" {
		t.Errorf("summary line %v", got[1])
	}
	if got[2]["repeated"] != float64(39) || got[2]["failing_for"] != "30s" {
		t.Errorf("second summary %v", got[2])
	}
}

func TestThrottleResolveEndsTheRun(t *testing.T) {
	th, clock, buf := newThrottle(t)
	if n, d := th.Resolve(); n != 0 || d != 0 {
		t.Fatalf("resolve without a run: %d %v", n, d)
	}
	for range 5 {
		th.Error(errors.New("down"))
		clock.Add(time.Second)
	}
	if !th.Failing() {
		t.Fatal("not failing")
	}
	if n, d := th.Resolve(); n != 5 || d != 5*time.Second {
		t.Fatalf("resolve: %d %v", n, d)
	}
	if th.Failing() {
		t.Fatal("still failing")
	}
	lines(t, buf)
	// A new run logs its first occurrence at once, with no count.
	if !th.Error(errors.New("down again")) {
		t.Fatal("first occurrence of a new run not logged")
	}
	got := lines(t, buf)
	if len(got) != 1 || got[0]["err"] != "down again" || got[0]["repeated"] != nil {
		t.Fatalf("new run: %v", got)
	}
}

func TestThrottleQuietEndsTheRun(t *testing.T) {
	th, clock, buf := newThrottle(t)
	th.Error(errors.New("down"))
	clock.Add(time.Second)
	th.Error(errors.New("down"))
	// Quiet for longer than the longest interval (40s): a new run.
	clock.Add(41 * time.Second)
	if !th.Error(errors.New("down again")) {
		t.Fatal("first occurrence after a quiet spell not logged")
	}
	got := lines(t, buf)
	if len(got) != 2 || got[1]["repeated"] != nil {
		t.Fatalf("lines %v", got)
	}
	if n, d := th.Resolve(); n != 1 || d != 0 {
		t.Fatalf("the new run: %d %v", n, d)
	}
}

func TestThrottleNilLoggerCounts(t *testing.T) {
	th := logthrottle.New(nil, slog.LevelWarn, "x")
	if !th.Error(errors.New("a")) || th.Error(errors.New("a")) {
		t.Fatal("nil logger: first not reported or second not held back")
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th, _, buf := newThrottle(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				th.Error(errors.New("down"))
			}
		}()
	}
	wg.Wait()
	// The clock stood still: one line for 800 occurrences.
	if got := lines(t, buf); len(got) != 1 {
		t.Fatalf("%d lines", len(got))
	}
	if n, _ := th.Resolve(); n != 800 {
		t.Fatalf("resolve counted %d", n)
	}
}

func ExampleThrottle() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := logthrottle.New(log, slog.LevelWarn, "revocation store unreachable",
		logthrottle.WithClock(func() time.Time { return now }))
	for range 30 {
		th.Error(errors.New("dial tcp 10.0.0.7:6379: connect: connection refused"))
		now = now.Add(500 * time.Millisecond)
	}
	if n, d := th.Resolve(); n > 0 {
		log.Info("revocation store reachable again", "failures", n, "after", d.String())
	}
	// Output:
	// level=WARN msg="revocation store unreachable" err="dial tcp 10.0.0.7:6379: connect: connection refused"
	// level=WARN msg="revocation store unreachable" err="dial tcp 10.0.0.7:6379: connect: connection refused" repeated=19 failing_for=10s
	// level=INFO msg="revocation store reachable again" failures=30 after=15s
}
