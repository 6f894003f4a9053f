package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// chunkWrites is a client hook counting the session set chunk writes
// (setChunksScript calls) that succeed; before, when set, runs before
// each and fails it by returning an error.
type chunkWrites struct {
	n      atomic.Int64
	before func(ctx context.Context) error
}

func (h *chunkWrites) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *chunkWrites) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (h *chunkWrites) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !isChunkWrite(cmd) {
			return next(ctx, cmd)
		}
		if h.before != nil {
			if err := h.before(ctx); err != nil {
				cmd.SetErr(err)
				return err
			}
		}
		err := next(ctx, cmd)
		if err == nil {
			h.n.Add(1)
		}
		return err
	}
}

// isChunkWrite reports whether cmd runs setChunksScript (EVALSHA, or EVAL
// after NOSCRIPT).
func isChunkWrite(cmd goredis.Cmder) bool {
	args := cmd.Args()
	if len(args) < 2 {
		return false
	}
	name, _ := args[0].(string)
	body, _ := args[1].(string)
	switch strings.ToLower(name) {
	case "evalsha":
		return body == setChunksScript.Hash()
	case "eval":
		sum := sha1.Sum([]byte(body))
		return hex.EncodeToString(sum[:]) == setChunksScript.Hash()
	}
	return false
}

// hookedStore is a Store on a client of its own, as a replica has, with
// h on that client.
func hookedStore(t *testing.T, c goredis.UniversalClient, opts Options, h *chunkWrites) *Store {
	t.Helper()
	c.AddHook(h)
	t.Cleanup(func() { _ = c.Close() })
	s, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// watchWaits returns a channel receiving the Store of each writer that
// finds a session set's claim held by another writer, as it starts to
// wait.
func watchWaits(t *testing.T) <-chan *Store {
	t.Helper()
	ch := make(chan *Store, 1024)
	hook := func(s *Store, _ string) {
		select {
		case ch <- s:
		default:
		}
	}
	setClaimWaiting.Store(&hook)
	t.Cleanup(func() { setClaimWaiting.Store(nil) })
	return ch
}

// waitForWait receives from waits until s waits.
func waitForWait(t *testing.T, waits <-chan *Store, s *Store) {
	t.Helper()
	for {
		select {
		case w := <-waits:
			if w == s {
				return
			}
		case <-t.Context().Done():
			t.Fatal("the writer never waited")
		}
	}
}

// uploadCalls is how many setChunksScript calls one upload of e makes.
func uploadCalls(e revocation.Entry) int64 {
	chunks := (e.Set.Len() + setChunkHashes - 1) / setChunkHashes
	return int64((chunks + setChunksPerCall - 1) / setChunksPerCall)
}

// requireStored checks that a fresh Store loads e's set with e's content
// and that no write claim is left.
func requireStored(t *testing.T, c goredis.UniversalClient, opts Options, e revocation.Entry) {
	t.Helper()
	fresh, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fresh.Close() }()
	got, ok, err := fresh.Get(t.Context(), revocation.KindSIDSet, e.Provider, e.Value)
	if err != nil || !ok || !got.Set.Equal(e.Set) {
		t.Fatalf("stored set: ok %v, err %v, equal %v", ok, err, ok && got.Set.Equal(e.Set))
	}
	if n, err := c.Exists(t.Context(), fresh.setClaimKey(member(e.Kind, e.Provider, e.Value))).Result(); err != nil || n != 0 {
		t.Fatalf("write claim left behind (%d, %v)", n, err)
	}
}

func netInputBytes(t *testing.T, c *goredis.Client) int64 {
	t.Helper()
	info, err := c.Info(t.Context(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_net_input_bytes:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no total_net_input_bytes in INFO stats")
	return 0
}

// restoreAtOnce runs Restore of entries on every store at once, released
// together, and returns their errors.
func restoreAtOnce(t *testing.T, stores []*Store, entries ...[]revocation.Entry) []error {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		es := entries[0]
		if len(entries) > 1 {
			es = entries[i]
		}
		wg.Go(func() {
			<-start
			errs[i] = s.Restore(t.Context(), es)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestSessionSetWriteBackUploadsOnce has 50 replicas write back the same
// set at once, as after Redis lost its data: every write-back succeeds,
// the content is uploaded once, and the set loads whole.
func TestSessionSetWriteBackUploadsOnce(t *testing.T) {
	const replicas, sessions = 50, 100_000
	srv := redisserver.New(t)
	opts := uniqueOptions(t)
	e := bigSet("storm", sessions)
	var writes chunkWrites
	stores := make([]*Store, replicas)
	for i := range stores {
		stores[i] = hookedStore(t, goredis.NewClient(&goredis.Options{Addr: srv.Addr()}), opts, &writes)
		if err := stores[i].c.Ping(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	admin := newClient(t, srv.Addr())
	before := netInputBytes(t, admin)

	for i, err := range restoreAtOnce(t, stores, []revocation.Entry{e}) {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	received := netInputBytes(t, admin) - before

	if got, want := writes.n.Load(), uploadCalls(e); got != want {
		t.Fatalf("%d chunk writes, want %d: one upload", got, want)
	}
	requireStored(t, admin, opts, e)
	chunks, _ := setContent(e.Set, e.ExpiresAt)
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	t.Logf("%d replicas wrote back a set of %d sessions (%d bytes of content): Redis received %d bytes", replicas, sessions, size, received)
}

// TestSessionSetClaimOfDeadWriter leaves a set's claim to a writer that
// never releases it: a waiting writer takes over once the claim is gone,
// deleted or expired, and writes the set.
func TestSessionSetClaimOfDeadWriter(t *testing.T) {
	addr := redisserver.Shared(t)
	c := newClient(t, addr)
	for _, tc := range []struct {
		name string
		ttl  string // of the dead writer's claim, ms
		gone func(t *testing.T, key string)
	}{
		{"deleted", "600000", func(t *testing.T, key string) {
			if err := c.Del(t.Context(), key).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"expired", "50", func(*testing.T, string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := uniqueOptions(t)
			var writes chunkWrites
			s := hookedStore(t, goredis.NewClient(&goredis.Options{Addr: addr}), opts, &writes)
			e := bigSet("dead", 3*setChunkHashes)
			key := s.setClaimKey(member(e.Kind, e.Provider, e.Value))
			waits := watchWaits(t)
			if err := c.Do(t.Context(), "SET", key, "dead-writer", "PX", tc.ttl).Err(); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- s.Restore(t.Context(), []revocation.Entry{e}) }()
			if tc.name == "deleted" {
				waitForWait(t, waits, s)
			}
			tc.gone(t, key)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if got, want := writes.n.Load(), uploadCalls(e); got != want {
				t.Fatalf("%d chunk writes, want %d", got, want)
			}
			requireStored(t, c, opts, e)
		})
	}
}

// TestSessionSetClaimWaiterCancelled cancels a writer waiting for another
// one's claim: it fails, writes nothing, and leaves the other's claim as
// it was.
func TestSessionSetClaimWaiterCancelled(t *testing.T) {
	addr := redisserver.Shared(t)
	c := newClient(t, addr)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	e := bigSet("cancel", 1000)
	m := member(e.Kind, e.Provider, e.Value)
	if err := c.Set(t.Context(), s.setClaimKey(m), "other-writer", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waits := watchWaits(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Restore(ctx, []revocation.Entry{e}) }()
	waitForWait(t, waits, s)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Restore = %v, want context.Canceled", err)
	}
	if v, err := c.Get(t.Context(), s.setClaimKey(m)).Result(); err != nil || v != "other-writer" {
		t.Fatalf("claim = %q, %v; want the other writer's", v, err)
	}
	if n, err := c.Exists(t.Context(), s.setHeaderKey(m), s.setChunkKey(m, 0)).Result(); err != nil || n != 0 {
		t.Fatalf("a cancelled waiter wrote %d keys (%v)", n, err)
	}
}

// TestSessionSetClaimReleasedOnFailure fails (by cancelling it) a writer
// holding a set's claim during its upload: it releases the claim, so the
// next writer takes it without waiting.
func TestSessionSetClaimReleasedOnFailure(t *testing.T) {
	addr := redisserver.Shared(t)
	c := newClient(t, addr)
	opts := uniqueOptions(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	failing := &chunkWrites{before: func(context.Context) error { cancel(); return context.Canceled }}
	holder := hookedStore(t, goredis.NewClient(&goredis.Options{Addr: addr}), opts, failing)
	e := bigSet("fail", 2*setChunkHashes)
	waits := watchWaits(t)
	if err := holder.Restore(ctx, []revocation.Entry{e}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Restore = %v, want context.Canceled", err)
	}
	if n, err := c.Exists(t.Context(), holder.setClaimKey(member(e.Kind, e.Provider, e.Value))).Result(); err != nil || n != 0 {
		t.Fatalf("a failed writer left its claim (%d, %v)", n, err)
	}

	var writes chunkWrites
	next := hookedStore(t, goredis.NewClient(&goredis.Options{Addr: addr}), opts, &writes)
	if err := next.Restore(t.Context(), []revocation.Entry{e}); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-waits:
		t.Fatalf("a writer (next: %v) waited for a released claim", w == next)
	default:
	}
	if got, want := writes.n.Load(), uploadCalls(e); got != want {
		t.Fatalf("%d chunk writes, want %d", got, want)
	}
	requireStored(t, c, opts, e)
}

// TestSessionSetClaimOtherContentRefused writes two contents under one
// set id, one after the other and at once: the second, or the one that
// did not get the claim, is refused, and the other's content stays whole.
func TestSessionSetClaimOtherContentRefused(t *testing.T) {
	addr := redisserver.Shared(t)
	c := newClient(t, addr)
	opts := uniqueOptions(t)
	first, second := newStore(t, addr, opts), newStore(t, addr, opts)

	e := bigSet("one", 2*setChunkHashes)
	other := bigSet("two", setChunkHashes+1)
	other.Value = e.Value
	if err := first.Restore(t.Context(), []revocation.Entry{e}); err != nil {
		t.Fatal(err)
	}
	if err := second.Restore(t.Context(), []revocation.Entry{other}); !errors.Is(err, errSetOtherContent) {
		t.Fatalf("Restore of other content = %v, want %v", err, errSetOtherContent)
	}
	requireStored(t, c, opts, e)

	a, b := bigSet("a", 3*setChunkHashes), bigSet("b", 3*setChunkHashes)
	b.Value = a.Value
	errs := restoreAtOnce(t, []*Store{first, second}, []revocation.Entry{a}, []revocation.Entry{b})
	switch {
	case errs[0] == nil && errors.Is(errs[1], errSetOtherContent):
		requireStored(t, c, opts, a)
	case errs[1] == nil && errors.Is(errs[0], errSetOtherContent):
		requireStored(t, c, opts, b)
	default:
		t.Fatalf("concurrent writes of two contents: %v, %v; want one refused", errs[0], errs[1])
	}
}

// TestSessionSetClaimCluster writes back one set from several replicas
// at once in a Redis Cluster: the claim shares the header's slot.
func TestSessionSetClaimCluster(t *testing.T) {
	cs := redisserver.NewCluster(t)
	opts := clusterOptions(t, false)
	e := bigSet("cluster", 5*setChunkHashes)
	var writes chunkWrites
	stores := make([]*Store, 5)
	for i := range stores {
		stores[i] = hookedStore(t, NewClusterClient(ClusterOptions{Addrs: cs.Addrs()}), opts, &writes)
	}
	for i, err := range restoreAtOnce(t, stores, []revocation.Entry{e}) {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if got, want := writes.n.Load(), uploadCalls(e); got != want {
		t.Fatalf("%d chunk writes, want %d", got, want)
	}
	requireStored(t, newClusterClient(t, cs), opts, e)
}
