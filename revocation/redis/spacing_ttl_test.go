package redis

import (
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// spacingTTLs reads the remaining lives of the marker, the pending list
// and pending-state at one instant (MULTI), in milliseconds: -2 for a
// missing key, -1 for one without a TTL.
func spacingTTLs(t *testing.T, c *goredis.Client, s *Store) (marker, pending, state int64) {
	t.Helper()
	var m, p, st *goredis.DurationCmd
	if _, err := c.TxPipelined(t.Context(), func(pipe goredis.Pipeliner) error {
		m = pipe.PTTL(t.Context(), s.markerKey)
		p = pipe.PTTL(t.Context(), s.pendingKey)
		st = pipe.PTTL(t.Context(), s.stateKey)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ms := func(cmd *goredis.DurationCmd) int64 {
		d := cmd.Val()
		if d < 0 {
			return int64(d) // -1 and -2 come through unscaled
		}
		return d.Milliseconds()
	}
	return ms(m), ms(p), ms(st)
}

// The pending list and pending-state carry a TTL after every script call
// that writes them: pendingTTL for pending-state when nothing is pending,
// else pendingTTL past the marker, so that they outlive every flush. A
// write that leaves entries pending, a write-back, and a flush each set it
// again.
func TestPendingKeysExpire(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	const interval = time.Hour
	s := spacedWriters(t, addr, opts, 1, interval)[0]
	c := newClient(t, addr)
	es := jtiEntries("ttl", 4)
	limit := (pendingTTL + interval).Milliseconds()

	idle := func(when string) {
		t.Helper()
		_, pending, state := spacingTTLs(t, c, s)
		if pending != -2 {
			t.Fatalf("%s: the pending list exists (PTTL %d) with nothing pending", when, pending)
		}
		if state <= 0 || state > pendingTTL.Milliseconds() {
			t.Fatalf("%s: pending-state PTTL %d ms, want within (0, %d]", when, state, pendingTTL.Milliseconds())
		}
	}
	waiting := func(when string) {
		t.Helper()
		marker, pending, state := spacingTTLs(t, c, s)
		for name, ttl := range map[string]int64{"pending": pending, "pending-state": state} {
			if ttl <= marker || ttl > limit {
				t.Fatalf("%s: %s PTTL %d ms, want past the marker's %d ms and at most %d", when, name, ttl, marker, limit)
			}
		}
	}
	shorten := func() {
		t.Helper()
		for _, k := range []string{s.pendingKey, s.stateKey} {
			if err := c.PExpire(t.Context(), k, 30*time.Second).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}

	mustPutAll(t, s, es[0]) // announced at once: nothing pending
	idle("after an announced write")
	mustPutAll(t, s, es[1]) // pending for the interval
	waiting("after a pending write")
	shorten()
	mustPutAll(t, s, es[2])
	waiting("after a second pending write")
	shorten()
	if err := s.Restore(t.Context(), es[3:]); err != nil {
		t.Fatal(err)
	}
	waiting("after a write-back")
	expireMarker(t, addr, s)
	if _, err := s.flushPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	idle("after a flush")
}

// follower follows a Store's subscription as the Service does: its
// cursor moves on with onCovered only from where it stands, and every
// entry it claims must have been delivered first.
type follower struct {
	t       *testing.T
	mu      sync.Mutex
	events  []followed
	cursor  uint64
	cursors chan uint64
}

// followed is one call of the subscription: an entry, or a range covered.
type followed struct {
	entry          *revocation.Entry
	after, through uint64
}

// follow subscribes s until the test ends.
func follow(t *testing.T, s *Store) *follower {
	f := &follower{t: t, cursors: make(chan uint64, 64)}
	subscribed := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(t.Context(), f.entry, f.covered, func() { subscribed <- struct{}{} })
	}()
	t.Cleanup(func() { waitFor(t, done) })
	waitFor(t, subscribed)
	return f
}

func (f *follower) entry(e revocation.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, followed{entry: &e})
}

func (f *follower) covered(after, through uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, followed{after: after, through: through})
	if after <= f.cursor && through > f.cursor {
		f.cursor = through
		f.cursors <- through
	}
}

// reach waits until the cursor is at head.
func (f *follower) reach(head uint64) {
	f.t.Helper()
	for at := uint64(0); at < head; {
		at = waitFor(f.t, f.cursors)
	}
}

// check verifies, against the change log, that no range was covered
// before every entry in it was delivered, that the numbers never went
// back (a reset), and that every entry written was delivered.
func (f *follower) check(c *goredis.Client, s *Store, written []revocation.Entry) {
	f.t.Helper()
	log, err := c.ZRangeWithScores(f.t.Context(), s.logKey, 0, -1).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	bySeq := map[uint64]string{}
	for _, z := range log {
		bySeq[uint64(z.Score)] = z.Member.(string)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	got := map[string]bool{}
	var cursor uint64
	for _, ev := range f.events {
		if ev.entry != nil {
			got[member(ev.entry.Kind, ev.entry.Provider, ev.entry.Value)] = true
			continue
		}
		if ev.through == 0 {
			f.t.Fatal("the subscription saw the sequence numbers go back")
		}
		if ev.after > cursor || ev.through <= cursor {
			continue
		}
		for seq := cursor + 1; seq <= ev.through; seq++ {
			if !got[bySeq[seq]] {
				f.t.Fatalf("covered through %d before seq %d (%q) was delivered", ev.through, seq, bySeq[seq])
			}
		}
		cursor = ev.through
	}
	for _, e := range written {
		if m := member(e.Kind, e.Provider, e.Value); !got[m] {
			f.t.Fatalf("%s never delivered", m)
		}
	}
}

// announcedInOrder reads announcements until every sequence number of
// want came, and checks that none came twice, out of order, or outside
// want, and that each names the entry the change log holds at its number.
func announcedInOrder(t *testing.T, c *goredis.Client, s *Store, payloads <-chan string, want map[uint64]bool) {
	t.Helper()
	var last uint64
	for seen := 0; seen < len(want); {
		a, err := decodeAnnouncement(waitFor(t, payloads))
		if err != nil {
			t.Fatal(err)
		}
		if a.first <= last {
			t.Fatalf("announced seq %d after %d", a.first, last)
		}
		for i, e := range a.entries {
			seq := a.first + uint64(i)
			if !want[seq] {
				t.Fatalf("announced seq %d, which is not to be announced", seq)
			}
			score, err := c.ZScore(t.Context(), s.logKey, member(e.Kind, e.Provider, e.Value)).Result()
			if err != nil || uint64(score) != seq {
				t.Fatalf("announced %s as seq %d; the log has %v, %v", e.Value, seq, score, err)
			}
			seen++
		}
		last = a.last
	}
}

// When the pending list or pending-state expires (every writer stopped
// for pendingTTL), or both do, the scripts neither fail nor announce the
// dropped entries out of order, whether the next write finds the marker
// set or gone; a later writer takes over flushing what it leaves pending;
// and a subscribed Store gets the dropped entries from the change log,
// through the gap the next message leaves, before its cursor passes them.
func TestExpiredPendingKeysLoseNothing(t *testing.T) {
	addr := redisserver.Shared(t)
	for _, gone := range []struct {
		name           string
		pending, state bool
	}{{"pending", true, false}, {"pending-state", false, true}, {"both", true, true}} {
		for _, markerSet := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s expired, marker set %v", gone.name, markerSet), func(t *testing.T) {
				opts := uniqueOptions(t)
				c := newClient(t, addr)
				// The first writer defers for an hour and stops; the second
				// flushes every 20 ms once the marker is gone.
				first := spacedWriters(t, addr, opts, 1, time.Hour)[0]
				second := spacedWriters(t, addr, opts, 1, 20*time.Millisecond)[0]
				payloads := rawSubscribe(t, addr, opts)
				f := follow(t, newStore(t, addr, opts))
				es := jtiEntries("expired", 6)

				mustPutAll(t, first, es[0])        // seq 1, announced
				mustPutAll(t, first, es[1], es[2]) // seq 2 and 3, pending
				_ = first.Close()
				var keys []string
				if gone.pending {
					keys = append(keys, first.pendingKey)
				}
				if gone.state {
					keys = append(keys, first.stateKey)
				}
				if err := c.Del(t.Context(), keys...).Err(); err != nil {
					t.Fatal(err)
				}
				if !markerSet {
					expireMarker(t, addr, first)
				}
				if wait, err := second.flushPending(t.Context()); err != nil || wait != 0 {
					t.Fatalf("flush after the expiry: %v, %v; want nothing pending", wait, err)
				}
				// Seq 4 to 6: with the marker set, all pending for the second
				// writer's flush; with it gone, 4 at once.
				mustPutAll(t, second, es[3:]...)
				expireMarker(t, addr, first)

				f.reach(6)
				announcedInOrder(t, c, second, payloads, map[uint64]bool{1: true, 4: true, 5: true, 6: true})
				f.check(c, second, es)
				if n := c.Exists(t.Context(), second.pendingKey).Val(); n != 0 {
					t.Fatal("still pending at the end")
				}
			})
		}
	}
}
