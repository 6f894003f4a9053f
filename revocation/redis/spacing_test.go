package redis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// spacedWriters returns n Stores on opts, each with its own client,
// writing every Put in its own script call (no client-side batching) and
// spacing announcements by interval.
func spacedWriters(t *testing.T, addr string, opts Options, n int, interval time.Duration) []*Store {
	t.Helper()
	opts.AnnounceDelay = -1
	opts.AnnounceInterval = interval
	out := make([]*Store, n)
	for i := range out {
		out[i] = newStore(t, addr, opts)
	}
	return out
}

// collect reads announcements from payloads until want entries came, and
// checks that their sequence numbers follow each other without a hole or
// a repeat across messages.
func collect(t *testing.T, payloads <-chan string, want int) (messages []string, entries []revocation.Entry) {
	t.Helper()
	var next uint64
	for len(entries) < want {
		p := waitFor(t, payloads)
		a, err := decodeAnnouncement(p)
		if err != nil {
			t.Fatal(err)
		}
		if next != 0 && a.first != next {
			t.Fatalf("message %d starts at seq %d, want %d", len(messages), a.first, next)
		}
		next = a.last + 1
		messages = append(messages, p)
		entries = append(entries, a.entries...)
	}
	return messages, entries
}

// expireMarker ends the interval for every writer at once, as the marker's
// expiry does.
func expireMarker(t *testing.T, addr string, s *Store) {
	t.Helper()
	if err := newClient(t, addr).Del(t.Context(), s.markerKey).Err(); err != nil {
		t.Fatal(err)
	}
}

// Several writers (Stores with clients of their own) writing at once send
// at most one message per interval between them: with an hour's interval,
// 4 writers × 50 script calls make one message at once and one when the
// interval ends, carrying every entry once, in the order of their
// sequence numbers.
func TestWritersShareOneMessagePerInterval(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	const writers, each = 4, 50
	ws := spacedWriters(t, addr, opts, writers, time.Hour)
	payloads := rawSubscribe(t, addr, opts)

	var wg sync.WaitGroup
	for w, s := range ws {
		wg.Go(func() {
			for _, e := range jtiEntries(fmt.Sprintf("writer%d", w), each) {
				if err := s.Put(t.Context(), e); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := newClient(t, addr).Exists(t.Context(), ws[0].pendingKey).Val(); n != 1 {
		t.Fatal("nothing pending while the interval runs")
	}
	expireMarker(t, addr, ws[0])
	if _, err := ws[0].flushPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	messages, entries := collect(t, payloads, writers*each)
	if len(messages) != 2 {
		t.Fatalf("%d messages for %d script calls of %d writers, want 2", len(messages), writers*each, writers)
	}
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.Value]++
	}
	for w := range writers {
		for _, e := range jtiEntries(fmt.Sprintf("writer%d", w), each) {
			if seen[e.Value] != 1 {
				t.Fatalf("%s delivered %d times, want once", e.Value, seen[e.Value])
			}
		}
	}
}

// Pending entries go out at once, whatever the interval, when they reach
// AnnounceMaxBytes: no message is bigger than that, and a burst makes
// about its size over the bound in messages, not one per script call.
func TestPendingBoundSendsAtOnce(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	const writers, each = 4, 50
	entries := jtiEntries("bound", 1)
	opts.AnnounceMaxBytes = 20 * announceSize(entries[0])
	ws := spacedWriters(t, addr, opts, writers, time.Hour)
	payloads := rawSubscribe(t, addr, opts)

	var wg sync.WaitGroup
	for w, s := range ws {
		wg.Go(func() {
			for _, e := range jtiEntries(fmt.Sprintf("bound%d", w), each) {
				if err := s.Put(t.Context(), e); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()
	expireMarker(t, addr, ws[0])
	if _, err := ws[0].flushPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	messages, got := collect(t, payloads, writers*each)
	t.Logf("%d entries of %d writers in %d messages", len(got), writers, len(messages))
	if len(got) != writers*each {
		t.Fatalf("%d entries delivered, want %d", len(got), writers*each)
	}
	// 200 entries, 20 to a message: 10 full ones, and the first message
	// (nothing was pending) and the last (the flush) may be short.
	if len(messages) > writers*each/20+2 {
		t.Fatalf("%d messages, want at most %d", len(messages), writers*each/20+2)
	}
	for _, p := range messages {
		a, _ := decodeAnnouncement(p)
		var size int
		for _, e := range a.entries {
			size += announceSize(e)
		}
		if size > opts.AnnounceMaxBytes {
			t.Fatalf("a message of %d entries holds %d bytes of announcement, over the bound %d", len(a.entries), size, opts.AnnounceMaxBytes)
		}
	}
}

// A writer whose entries were deferred announces them itself when the
// marker expires, though no other write comes: here the marker is another
// writer's, set for an hour, and the writer (20 ms interval) tries again
// every 20 ms until it is gone. A second writer whose entries join the
// pending ones leaves the flush to the first: one flush, one message.
func TestDeferredEntriesAreFlushed(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	ws := spacedWriters(t, addr, opts, 2, 20*time.Millisecond)
	payloads := rawSubscribe(t, addr, opts)
	c := newClient(t, addr)
	if err := c.Set(t.Context(), ws[0].markerKey, "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	es := jtiEntries("deferred", 2)
	mustPutAll(t, ws[0], es[0])
	mustPutAll(t, ws[1], es[1])
	if n := c.Exists(t.Context(), ws[0].pendingKey).Val(); n != 1 {
		t.Fatal("the entries were not left pending while the marker is set")
	}
	ws[1].flushes.mu.Lock()
	second := ws[1].flushes.timer != nil
	ws[1].flushes.mu.Unlock()
	if second {
		t.Fatal("the second writer scheduled a flush of its own")
	}
	expireMarker(t, addr, ws[0])
	a, err := decodeAnnouncement(waitFor(t, payloads))
	if err != nil || len(a.entries) != 2 || a.entries[0] != es[0] || a.entries[1] != es[1] {
		t.Fatalf("announced %+v, %v; want both deferred entries", a, err)
	}
	if n := c.Exists(t.Context(), ws[0].pendingKey).Val(); n != 0 {
		t.Fatal("still pending after the flush")
	}
}

// A writer killed with entries pending loses none: every replica reads
// them on its periodic pull.
func TestPendingEntriesOfDeadWriterArriveByPull(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	replica := startReplica(t, addr, opts, revocation.Options{ProbeInterval: 20 * time.Millisecond, MaxStaleness: time.Hour})
	w := spacedWriters(t, addr, opts, 1, time.Hour)[0]
	es := jtiEntries("dead", 2)
	mustPutAll(t, w, es...) // the first goes out, the second waits an hour
	if n := newClient(t, addr).Exists(t.Context(), w.pendingKey).Val(); n != 1 {
		t.Fatal("nothing pending")
	}
	_ = w.Close() // its flush never runs
	eventually(t, "the replica enforces both entries", func() bool { return allEnforce([]*revocation.Service{replica}, es) })
}

// A message made of pending entries is in the compact form, the
// entries of several script calls byte for byte as encodeCompact
// has it; a write-back between them splits the message in two, each
// numbered without a hole.
func TestScriptAnnouncesPendingInCompactForm(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := spacedWriters(t, addr, opts, 1, time.Hour)[0]
	payloads := rawSubscribe(t, addr, opts)
	ctx := t.Context()
	entries := compactEntries()
	if err := s.put(ctx, opts.Channel, entries[:1]); err != nil { // announced, sets the marker
		t.Fatal(err)
	}
	first, err := decodeAnnouncement(waitFor(t, payloads))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range [][]revocation.Entry{entries[1:3], entries[3:4], entries[4:6]} {
		if err := s.put(ctx, opts.Channel, part); err != nil {
			t.Fatal(err)
		}
	}
	restored := jtiEntries("restored", 2)
	if err := s.Restore(ctx, restored); err != nil {
		t.Fatal(err)
	}
	if err := s.put(ctx, opts.Channel, entries[6:]); err != nil {
		t.Fatal(err)
	}
	expireMarker(t, addr, s)
	if _, err := s.flushPending(ctx); err != nil {
		t.Fatal(err)
	}
	next := first.last + 1
	for _, want := range []struct {
		entries []revocation.Entry
		first   uint64
	}{{entries[1:6], next}, {entries[6:], next + 5 + uint64(len(restored))}} {
		payload := waitFor(t, payloads)
		if w := encodeCompact(want.entries, want.first); payload != w {
			t.Fatalf("announced\n%q\nwant\n%q", payload, w)
		}
	}
}

// directPutSource is the write script of the version before spacing
// across writers: each script call announces its own writes at once.
const directPutSource = luaVarints + `local channel = ARGV[1]
local changed = {}
for i = 4, #KEYS do
  local a = 2 + (i - 4) * 5
  local m, exp, before, created = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  redis.call('SET', KEYS[i], exp .. ':' .. before .. ':' .. created, 'EXAT', exp)
  local seq = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[1], seq, m)
  redis.call('ZADD', KEYS[2], exp, m)
  changed[#changed + 1] = {seq, exp, before, created, m, ARGV[a + 4]}
end
local parts = {'c:' .. uvarint(changed[1][1])}
local pe, pb, pc = 0, 0, 0
for _, c in ipairs(changed) do
  local e, b, cr = tonumber(c[2]), tonumber(c[3]), tonumber(c[4])
  local p = c[6] .. zigzag(e - pe)
  if string.byte(c[6], 1) % 8 >= 3 then
    p = p .. zigzag(b - pb)
    pb = b
  end
  parts[#parts + 1] = p .. zigzag(cr - pc)
  pe, pc = e, cr
end
redis.call('PUBLISH', channel, table.concat(parts))
return #changed
`

// directPut writes e as the version before spacing did (new entries
// only: it does not merge).
func directPut(ctx context.Context, s *Store, e revocation.Entry) error {
	m := member(e.Kind, e.Provider, e.Value)
	return goredis.NewScript(directPutSource).Run(ctx, s.c, []string{s.logKey, s.expKey, s.seqKey, s.entryKey(m)},
		s.channel, m, e.ExpiresAt, e.Before, e.CreatedAt, compactIdent(e)).Err()
}

// During a rolling upgrade a writer of the previous version announces its
// writes at once, past entries a new writer left pending. Those are then
// never announced after it (subscribers would take the numbers going back
// for a dataset that lost writes, and write everything back): the gap its
// message leaves makes subscribers read them from the change log, and the
// new writers drop them from the pending list.
func TestPreviousWriterDoesNotReorderPending(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := spacedWriters(t, addr, opts, 1, time.Hour)[0]
	payloads := rawSubscribe(t, addr, opts)
	sub := newStore(t, addr, opts)
	got := make(chan revocation.Entry, 16)
	var mu sync.Mutex
	var resets int
	subscribed := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(t.Context(), func(e revocation.Entry) { got <- e }, func(after, through uint64) {
			if after == 0 && through == 0 {
				mu.Lock()
				resets++
				mu.Unlock()
			}
		}, func() { subscribed <- struct{}{} })
	}()
	t.Cleanup(func() { waitFor(t, done) })
	waitFor(t, subscribed)

	es := jtiEntries("upgrade", 4)
	mustPutAll(t, s, es[0], es[1]) // seq 1 announced; seq 2 pending
	if err := directPut(t.Context(), s, es[2]); err != nil {
		t.Fatal(err)
	}
	mustPutAll(t, s, es[3]) // drops seq 2; seq 4 pending
	expireMarker(t, addr, s)
	if _, err := s.flushPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for len(seqs) < 3 {
		a, err := decodeAnnouncement(waitFor(t, payloads))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, a.first)
	}
	if seqs[0] != 1 || seqs[1] != 3 || seqs[2] != 4 {
		t.Fatalf("announced seqs %v, want 1, 3, 4", seqs)
	}
	seen := map[string]bool{}
	for len(seen) < len(es) {
		seen[waitFor(t, got).Value] = true
	}
	for _, e := range es {
		if !seen[e.Value] {
			t.Fatalf("subscriber lacks %s", e.Value)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if resets != 0 {
		t.Fatalf("the subscriber saw the numbers go back %d times", resets)
	}
}
