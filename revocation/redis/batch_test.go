package redis

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// rawSubscribe returns the payloads published on opts' channel from now
// on, as a plain Redis client sees them.
func rawSubscribe(t *testing.T, addr string, opts Options) <-chan string {
	t.Helper()
	ps := newClient(t, addr).Subscribe(t.Context(), opts.Channel)
	if _, err := ps.Receive(t.Context()); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	out := make(chan string, 1024)
	go func() {
		for m := range ps.Channel() {
			out <- m.Payload
		}
	}()
	return out
}

func jtiEntries(prefix string, n int) []revocation.Entry {
	exp := time.Now().Add(time.Hour).Unix()
	out := make([]revocation.Entry, n)
	for i := range out {
		out[i] = revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("%s-%04d", prefix, i), ExpiresAt: exp, CreatedAt: int64(i + 1)}
	}
	return out
}

// Concurrent Puts share one script call and one announcement, which
// carries every entry with consecutive sequence numbers. The batch here
// is flushed by its size (the delay is an hour), so the test does not
// depend on timing.
func TestConcurrentPutsShareOneAnnouncement(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	entries := jtiEntries("batch", 8)
	opts.AnnounceDelay = time.Hour
	opts.AnnounceMaxBytes = 8 * announceSize(entries[0])
	reg := prometheus.NewRegistry()
	opts.Metrics = NewMetrics(reg)
	s := newStore(t, addr, opts)
	payloads := rawSubscribe(t, addr, opts)

	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Go(func() {
			if err := s.Put(t.Context(), e); err != nil {
				t.Errorf("Put(%s): %v", e.Value, err)
			}
		})
	}
	wg.Wait()
	for _, e := range entries {
		if _, ok, err := s.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok {
			t.Fatalf("after Put returned, Get(%s) = %v, %v", e.Value, ok, err)
		}
	}
	a, err := decodeAnnouncement(waitFor(t, payloads))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.entries) != len(entries) || a.last-a.first != uint64(len(entries)-1) {
		t.Fatalf("one announcement of %d entries, seq %d..%d; want all %d, consecutive", len(a.entries), a.first, a.last, len(entries))
	}
	got := map[string]bool{}
	for _, e := range a.entries {
		got[e.Value] = true
	}
	for _, e := range entries {
		if !got[e.Value] {
			t.Fatalf("announcement lacks %s", e.Value)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "jwt_authz_revocation_announce_batch_entries"); err != nil || n != 1 {
		t.Fatalf("batch histogram: %d series, %v", n, err)
	}
	if sum := histogramSum(t, reg, "jwt_authz_revocation_announce_batch_entries"); sum != float64(len(entries)) {
		t.Fatalf("batch histogram sum %v, want %d", sum, len(entries))
	}
}

func histogramSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A lone Put is written and announced after the delay, alone.
func TestLonePutIsAnnouncedAlone(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	payloads := rawSubscribe(t, addr, opts)
	e := jtiEntries("lone", 1)[0]
	if err := s.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	a, err := decodeAnnouncement(waitFor(t, payloads))
	if err != nil || len(a.entries) != 1 || a.entries[0] != e {
		t.Fatalf("announcement %+v, %v; want %+v alone", a, err, e)
	}
}

// Under load a Store announces at most once per AnnounceInterval: Puts
// that come after a batch was flushed wait for the interval (here an
// hour) rather than for the delay (a nanosecond), unless their batch
// fills up first. A Put after a quiet interval (for this writer and in
// Redis) goes out after the delay alone.
func TestAnnounceIntervalBoundsMessages(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	entries := jtiEntries("interval", 6)
	opts.AnnounceDelay = time.Nanosecond
	opts.AnnounceInterval = time.Hour
	opts.AnnounceMaxBytes = 4 * announceSize(entries[0])
	s := newStore(t, addr, opts)
	payloads := rawSubscribe(t, addr, opts)
	putWithin := func(e revocation.Entry) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := s.Put(ctx, e); err != nil {
			t.Errorf("Put(%s): %v", e.Value, err)
		}
	}

	putWithin(entries[0]) // the first batch: nothing was flushed before it
	if a, err := decodeAnnouncement(waitFor(t, payloads)); err != nil || len(a.entries) != 1 {
		t.Fatalf("first announcement %+v, %v; want entry 0 alone", a, err)
	}
	var wg sync.WaitGroup
	for _, e := range entries[1:5] {
		wg.Go(func() { putWithin(e) })
	}
	wg.Wait()
	if a, err := decodeAnnouncement(waitFor(t, payloads)); err != nil || len(a.entries) != 4 {
		t.Fatalf("second announcement %+v, %v; want entries 1 to 4 in one, flushed when full", a, err)
	}

	s.batches.mu.Lock()
	s.batches.lastFlush = time.Now().Add(-2 * time.Hour) // a quiet interval
	s.batches.mu.Unlock()
	if err := newClient(t, addr).Del(t.Context(), s.markerKey).Err(); err != nil { // for every writer
		t.Fatal(err)
	}
	putWithin(entries[5])
	if a, err := decodeAnnouncement(waitFor(t, payloads)); err != nil || len(a.entries) != 1 || a.entries[0] != entries[5] {
		t.Fatalf("announcement after a quiet interval %+v, %v; want entry 5 alone", a, err)
	}
}

// By default the interval follows the channel's subscribers: 20 µs for
// each, at most 100 ms; zero until they are counted.
func TestAnnounceIntervalFollowsSubscribers(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	if got := s.batches.intervalNow(); got != 0 {
		t.Fatalf("interval before counting %v, want 0", got)
	}
	for range 3 {
		rawSubscribe(t, addr, opts)
	}
	if err := s.batches.refreshSubscribers(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := s.batches.intervalNow(), 3*AnnounceSpacingPerSubscriber; got != want {
		t.Fatalf("interval with 3 subscribers %v, want %v", got, want)
	}
	s.batches.subscribers.Store(1_000_000)
	if got := s.batches.intervalNow(); got != MaxAnnounceInterval {
		t.Fatalf("interval with a million subscribers %v, want %v", got, MaxAnnounceInterval)
	}
}

// A Put whose context is done before it is written is refused and stores
// nothing; the others of its batch are unaffected.
func TestPutCanceledBeforeBatch(t *testing.T) {
	addr := redisserver.Shared(t)
	s := newStore(t, addr, uniqueOptions(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := jtiEntries("canceled", 1)[0]
	if err := s.Put(ctx, e); err == nil {
		t.Fatal("Put with a done context succeeded")
	}
	if _, ok, _ := s.Get(t.Context(), e.Kind, "", e.Value); ok {
		t.Fatal("a refused Put stored its entry")
	}
}

// A subscriber that missed announcements (here: written under another
// channel) reads the missed entries from the change log when the next
// announcement shows the gap, without a full resync.
func TestSubscriberFillsGapFromLog(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	reg := prometheus.NewRegistry()
	subOpts := opts
	subOpts.Metrics = NewMetrics(reg)
	sub := newStore(t, addr, subOpts)
	writer := newStore(t, addr, opts)
	elsewhere := opts
	elsewhere.Channel += ":elsewhere"
	unheard := newStore(t, addr, elsewhere)

	got, subscribed := subscribeEntries(t, sub, 16)

	es := jtiEntries("gap", 3)
	mustPutAll(t, writer, es[0])
	if e := waitFor(t, got); e != es[0] {
		t.Fatalf("got %+v, want %+v", e, es[0])
	}
	mustPutAll(t, unheard, es[1])
	mustPutAll(t, writer, es[2])
	seen := map[string]bool{}
	for !seen[es[1].Value] || !seen[es[2].Value] {
		seen[waitFor(t, got).Value] = true
	}
	if n := testutil.ToFloat64(subOpts.Metrics.gaps); n != 1 {
		t.Fatalf("gaps counted %v, want 1", n)
	}
	select {
	case <-subscribed:
		t.Fatal("the gap made the subscription start over")
	default:
	}
}

// Messages in the forms of earlier versions are still applied: one entry
// per message, and the batch form.
func TestSubscriberReadsPreviousForms(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	sub := newStore(t, addr, opts)
	got, _ := subscribeEntries(t, sub, 4)
	es := jtiEntries("old", 3)
	for _, p := range []string{encodeValue(es[0]) + ":" + member(es[0].Kind, "", es[0].Value), encodeBatch(es[1:], []uint64{1, 2})} {
		if err := newClient(t, addr).Publish(t.Context(), opts.Channel, p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range es {
		if g := waitFor(t, got); g != e {
			t.Fatalf("got %+v, want %+v", g, e)
		}
	}
}

// The change log holds one member per stored entry, whatever the number
// of writes, and the expiry sweep removes expired ones from it.
func TestChangeLogStaysCompact(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	opts.AnnounceDelay = -1
	s := newStore(t, addr, opts)
	now := time.Now()
	for i := range 5 {
		for _, e := range jtiEntries("compact", 10) {
			e.ExpiresAt += int64(i) // a later expiry: a real write each time
			mustPutAll(t, s, e)
		}
	}
	short := revocation.Entry{Kind: revocation.KindSID, Value: "short-lived", ExpiresAt: now.Unix() + 1, CreatedAt: 1}
	mustPutAll(t, s, short)
	c := newClient(t, addr)
	if n := c.ZCard(t.Context(), opts.KeyPrefix+"log").Val(); n != 11 {
		t.Fatalf("log holds %d members after 51 writes of 11 entries, want 11", n)
	}
	if _, err := s.DeleteExpired(t.Context(), now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := c.ZCard(t.Context(), opts.KeyPrefix+"log").Val(); n != 10 {
		t.Fatalf("log holds %d members after the sweep, want 10", n)
	}
}

func mustPutAll(t *testing.T, s *Store, es ...revocation.Entry) {
	t.Helper()
	for _, e := range es {
		if err := s.Put(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor returns the next value from ch; the bound is a liveness check.
func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing within 10s")
		var zero T
		return zero
	}
}

func TestSequence(t *testing.T) {
	type step struct {
		first, last uint64
		from        uint64
		gap         bool
	}
	tests := map[string][]step{
		"consecutive":             {{1, 3, 0, false}, {4, 4, 0, false}, {5, 9, 0, false}},
		"starts anywhere":         {{40, 41, 0, false}, {42, 42, 0, false}},
		"gap":                     {{1, 3, 0, false}, {6, 6, 3, true}},
		"gap read, then in-order": {{1, 1, 0, false}, {5, 5, 1, true}, {6, 7, 0, false}},
		"dataset went back":       {{10, 12, 0, false}, {1, 1, 0, false}, {2, 2, 0, false}, {4, 4, 2, true}},
		"one-entry form ignored":  {{1, 1, 0, false}, {0, 0, 0, false}, {2, 2, 0, false}},
	}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			var q sequence
			for i, s := range steps {
				from, gap := q.next(announcement{first: s.first, last: s.last})
				if from != s.from || gap != s.gap {
					t.Fatalf("step %d (%d..%d): next = %d, %v; want %d, %v", i, s.first, s.last, from, gap, s.from, s.gap)
				}
			}
		})
	}
	t.Run("log read past the next batches", func(t *testing.T) {
		var q sequence
		q.next(announcement{first: 1, last: 1})
		if from, gap := q.next(announcement{first: 3, last: 3}); !gap || from != 1 {
			t.Fatalf("gap not found")
		}
		q.read = 9 // the log held writes up to 9
		for _, a := range []announcement{{first: 4, last: 6}, {first: 8, last: 9}, {first: 10, last: 10}} {
			if _, gap := q.next(a); gap {
				t.Fatalf("batch %d..%d counted as a gap after the log was read to 9", a.first, a.last)
			}
		}
		if _, gap := q.next(announcement{first: 12, last: 12}); !gap {
			t.Fatal("a gap after the read part was not found")
		}
	})
}

func TestDecodeAnnouncement(t *testing.T) {
	e1 := revocation.Entry{Kind: revocation.KindJTI, Value: "a:b\nc", ExpiresAt: 100, CreatedAt: 5}
	e2 := revocation.Entry{Kind: revocation.KindSub, Provider: "idp-a", Value: "u", Before: 42, ExpiresAt: 100, CreatedAt: 6}
	e3 := revocation.Entry{Kind: revocation.KindProvider, Value: "idp-b", Before: 7, ExpiresAt: 9, CreatedAt: 8}
	batch := encodeBatch([]revocation.Entry{e1, e2, e3}, []uint64{7, 8, 11})
	a, err := decodeAnnouncement(batch)
	if err != nil || a.first != 7 || a.last != 11 || len(a.entries) != 3 || a.entries[0] != e1 || a.entries[1] != e2 || a.entries[2] != e3 {
		t.Fatalf("decode(%q) = %+v, %v", batch, a, err)
	}
	old, err := decodeAnnouncement("100:0:5:jti:abc")
	if err != nil || old.first != 0 || len(old.entries) != 1 || old.entries[0].Value != "abc" {
		t.Fatalf("one-entry form: %+v, %v", old, err)
	}
	for name, payload := range map[string]string{
		"empty batch":        "b:",
		"seq zero":           "b:0:100:0:5:5:jti:a",
		"seq not increasing": "b:2:100:0:5:5:jti:a2:100:0:5:5:jti:b",
		"length past end":    "b:1:100:0:5:9:jti:a",
		"length cuts member": "b:1:100:0:5:4:jti:a",
		"trailing garbage":   "b:1:100:0:5:5:jti:ax",
		"unknown kind":       "b:1:100:0:5:5:xyz:a",
		"negative number":    "b:1:-100:0:5:5:jti:a",
		"too few numbers":    "b:1:100:0:5:jti:a",
		"huge number":        "b:1:99999999999999999999:0:5:5:jti:a",
	} {
		if a, err := decodeAnnouncement(payload); err == nil {
			t.Errorf("%s: decode(%q) = %+v, want an error", name, payload, a)
		}
	}
}

func FuzzDecodeAnnouncement(f *testing.F) {
	for _, s := range []string{"b:1:100:0:5:5:jti:a", "b:7:1:2:3:9:sid@x:abc2:8:1:2:3:5:sub:u", "100:0:5:jti:abc", "b:", "b:1:1:1:1:0:"} {
		f.Add(s)
	}
	f.Add(encodeCompact(compactEntries(), 9))
	f.Fuzz(func(t *testing.T, payload string) {
		a, err := decodeAnnouncement(payload)
		if err != nil {
			return
		}
		if len(a.entries) == 0 || a.first > a.last {
			t.Fatalf("decode(%q) = %+v without an error", payload, a)
		}
		if strings.HasPrefix(payload, compactPrefix) {
			back, err := decodeAnnouncement(encodeCompact(a.entries, a.first))
			if err != nil || back.first != a.first || back.last != a.last || !slices.Equal(back.entries, a.entries) {
				t.Fatalf("compact %q: re-encoded decodes as %+v, %v; want %+v", payload, back, err, a)
			}
		}
		if a.first != 0 {
			if back, err := decodeAnnouncement(encodeBatch(a.entries, seqsOf(a))); err != nil || len(back.entries) != len(a.entries) {
				t.Fatalf("re-encoded batch does not decode: %v", err)
			}
		}
	})
}

// seqsOf gives a's entries increasing numbers from a.first to a.last.
func seqsOf(a announcement) []uint64 {
	out := make([]uint64, len(a.entries))
	for i := range out {
		out[i] = a.first + uint64(i)
	}
	out[len(out)-1] = max(a.last, out[len(out)-1])
	return out
}

// encodeBatch is the batch announcement of entries with the sequence
// numbers seqs, as putScript writes it.
func encodeBatch(entries []revocation.Entry, seqs []uint64) string {
	var b strings.Builder
	b.WriteString(batchPrefix)
	for i, e := range entries {
		m := member(e.Kind, e.Provider, e.Value)
		fmt.Fprintf(&b, "%d:%s:%d:%s", seqs[i], encodeValue(e), len(m), m)
	}
	return b.String()
}

// subscribeEntries subscribes s until the test ends and returns the
// entries it hears, buffered n deep, and a signal for each (re)subscription
// after the first, which it has waited for.
func subscribeEntries(t *testing.T, s *Store, n int) (<-chan revocation.Entry, <-chan struct{}) {
	t.Helper()
	got := make(chan revocation.Entry, n)
	subscribed := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(t.Context(), func(e revocation.Entry) { got <- e }, nil, func() { subscribed <- struct{}{} })
	}()
	t.Cleanup(func() { waitFor(t, done) })
	waitFor(t, subscribed)
	return got, subscribed
}

// A writer whose user may not count the subscribers (an ACL without
// PUBSUB NUMSUB) keeps batching on the previous count, warns once when
// counting starts failing and says so once when it works again.
func TestSubscriberCountFailureIsLoggedOnce(t *testing.T) {
	addr := redisserver.Shared(t)
	admin := newClient(t, addr)
	user := "count-" + strings.TrimPrefix(uniqueOptions(t).Channel, DefaultChannel+":test-")
	if err := admin.Do(t.Context(), "ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-pubsub|numsub", "-pubsub|shardnumsub").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", user).Err() })

	logs := &testkit.LogBuffer{}
	opts := uniqueOptions(t)
	opts.Logger = logs.Logger(slog.LevelInfo)
	client := goredis.NewClient(&goredis.Options{Addr: addr, Username: user, Password: "pw"})
	t.Cleanup(func() { _ = client.Close() })
	s, err := New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	count := func() {
		s.batches.counted.Store(0) // due again
		s.batches.maybeRefresh()
	}
	count()
	count()
	const warned, recovered = "level=WARN msg=\"revocation announcements: counting", "level=INFO msg=\"revocation announcements: counting"
	if w, i := logs.Count(warned), logs.Count(recovered); w != 1 || i != 0 {
		t.Fatalf("after two failed counts, %d warnings and %d recoveries logged; want 1 and 0:\n%s", w, i, logs)
	}
	if err := admin.Do(t.Context(), "ACL", "SETUSER", user, "+pubsub|numsub", "+pubsub|shardnumsub").Err(); err != nil {
		t.Fatal(err)
	}
	count()
	count()
	if w, i := logs.Count(warned), logs.Count(recovered); w != 1 || i != 1 {
		t.Fatalf("after counting works again, %d warnings and %d recoveries logged; want 1 and 1:\n%s", w, i, logs)
	}
}
