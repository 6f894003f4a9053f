package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// gatedStore is a replica's Store whose pulls, once gated, each read the
// change log and then wait for a permit from the test to return; it
// counts the entries every pull reads.
type gatedStore struct {
	*Store
	gated      atomic.Bool
	permits    chan struct{}
	pulled     chan int // entries read by each gated pull, when it ends
	subscribed chan struct{}
	covered    atomic.Uint64 // the highest sequence number onCovered was given
}

// Head shadows Store.Head, so that the replica's every probe is a pull
// the test can hold.
func (g *gatedStore) Head() {}

func newGatedStore(s *Store) *gatedStore {
	return &gatedStore{
		Store:      s,
		permits:    make(chan struct{}),
		pulled:     make(chan int, 1),
		subscribed: make(chan struct{}, 16),
	}
}

func (g *gatedStore) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	if !g.gated.Load() {
		return g.Store.Pull(ctx, from, fn)
	}
	n := 0
	next, reset, err := g.Store.Pull(ctx, from, func(e revocation.Entry) error {
		n++
		return fn(e)
	})
	select {
	case <-g.permits:
	case <-ctx.Done():
		return from, false, ctx.Err()
	}
	g.pulled <- n
	return next, reset, err
}

func (g *gatedStore) Subscribe(ctx context.Context, onEntry func(revocation.Entry), onCovered func(after, through uint64), onSubscribed func()) error {
	return g.Store.Subscribe(ctx, onEntry, func(after, through uint64) {
		onCovered(after, through)
		g.covered.Store(max(g.covered.Load(), through))
	}, func() {
		onSubscribed()
		g.subscribed <- struct{}{}
	})
}

// pullOnce lets the gated pull that waits return, and returns how many
// entries it read.
func (g *gatedStore) pullOnce(t *testing.T) int {
	t.Helper()
	g.permits <- struct{}{}
	return waitFor(t, g.pulled)
}

// freshPull lets the waiting pull return (it read the change log before
// the test's latest writes), then the next one, which read it after, and
// returns how many entries the second read.
func (g *gatedStore) freshPull(t *testing.T) int {
	t.Helper()
	g.pullOnce(t)
	return g.pullOnce(t)
}

// waitCovered waits until the subscription has reported, and the replica
// taken in, every write up to sequence number seq.
func (g *gatedStore) waitCovered(t *testing.T, seq uint64) {
	t.Helper()
	eventually(t, "announcements covered", func() bool { return g.covered.Load() >= seq })
}

// startGatedReplica runs a replica on g whose every pull after the one at
// start waits for the test, and returns once a pull that began after the
// subscription was made has ended: from then on its cursor may follow the
// announcements.
func startGatedReplica(t *testing.T, g *gatedStore) *revocation.Service {
	t.Helper()
	svc, err := revocation.NewService(g, revocation.Options{
		MaxStaleness:  100 * time.Hour,
		ProbeInterval: time.Millisecond,
		SyncInterval:  time.Hour,
		Metrics:       revocation.NewMetrics(prometheus.NewRegistry()),
	})
	if err != nil {
		t.Fatal(err)
	}
	g.gated.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = svc.Close()
	})
	waitFor(t, g.subscribed)
	// Pulls run one at a time: the second of these began after the first
	// returned, which was after the subscription.
	g.pullOnce(t)
	g.pullOnce(t)
	return svc
}

// TestPullReadsNothingAnnouncementsBrought writes while the replica's
// pulls are held back: the announcements bring every entry and carry the
// cursor, so the pull that follows reads no entry.
func TestPullReadsNothingAnnouncementsBrought(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	g := newGatedStore(newStore(t, addr, opts))
	r := startGatedReplica(t, g)
	writer := newStore(t, addr, opts)

	es := testEntries("followed", 9)
	for i := 0; i < len(es); i += 3 {
		mustPutAll(t, writer, es[i:i+3]...)
	}
	g.waitCovered(t, uint64(len(es)))
	if !allEnforce([]*revocation.Service{r}, es) {
		t.Fatal("announced entries not applied")
	}
	if n := g.freshPull(t); n != 0 {
		t.Fatalf("the pull read %d entries, want 0: the announcements brought them all", n)
	}
}

// TestPullCatchesUpDroppedAnnouncement writes one entry whose announcement
// the replica never receives (it goes to another channel): the next pull
// reads it from the change log.
func TestPullCatchesUpDroppedAnnouncement(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	g := newGatedStore(newStore(t, addr, opts))
	r := startGatedReplica(t, g)
	writer := newStore(t, addr, opts)
	elsewhere := opts
	elsewhere.Channel += ":elsewhere"
	unheard := newStore(t, addr, elsewhere)

	es := testEntries("dropped", 3)
	mustPutAll(t, writer, es[0])
	g.waitCovered(t, 1)
	if !enforces(r, es[0]) {
		t.Fatal("announced entry not applied")
	}
	if n := g.freshPull(t); n != 0 {
		t.Fatalf("the pull read %d entries, want 0", n)
	}
	mustPutAll(t, unheard, es[1])
	if enforces(r, es[1]) {
		t.Fatal("the unannounced entry reached the replica; the test proves nothing")
	}
	if n := g.freshPull(t); n != 1 {
		t.Fatalf("the pull read %d entries, want the 1 whose announcement was dropped", n)
	}
	if !enforces(r, es[1]) {
		t.Fatal("the entry whose announcement was dropped is not enforced after the pull")
	}

	// The cursor follows again: an announced entry is not read twice.
	mustPutAll(t, writer, es[2])
	g.waitCovered(t, 3)
	if !enforces(r, es[2]) {
		t.Fatal("announced entry not applied")
	}
	if n := g.freshPull(t); n != 0 {
		t.Fatalf("the pull read %d entries, want 0", n)
	}
}

// TestResubscriptionBringsFullResync drops a replica's subscription: since
// writes may have been lost without a sign across whatever dropped it,
// the next SyncInterval tick lists everything. (Without a reason, the
// full listing is 60 intervals away, past this test's patience.)
func TestResubscriptionBringsFullResync(t *testing.T) {
	srv := redisserver.New(t)
	reg := prometheus.NewRegistry()
	startReplica(t, srv.Addr(), uniqueOptions(t), revocation.Options{
		MaxStaleness:  100 * time.Hour,
		ProbeInterval: 10 * time.Millisecond,
		SyncInterval:  time.Second,
		Metrics:       revocation.NewMetrics(reg),
	})
	eventually(t, "replica subscribed and in step", func() bool {
		return syncs(t, reg, "incremental") >= 1
	})
	if err := newClient(t, srv.Addr()).ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a full resync after the resubscription", func() bool {
		return syncs(t, reg, "full") >= 2
	})
}

// TestBackwardNumbersBringWriteBack makes the store lose its last two
// writes under a live subscription, the counter put back as a server that
// lost them would have it, then writes again: the announcements are
// numbered at or before ones already seen, so the replica's next pull
// starts over and writes back what was lost, although by then the counter
// is past the replica's cursor again and the dataset marker and run_id
// are unchanged.
func TestBackwardNumbersBringWriteBack(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	g := newGatedStore(newStore(t, addr, opts))
	startGatedReplica(t, g)
	writer := newStore(t, addr, opts)

	es := testEntries("lost", 3)
	mustPutAll(t, writer, es...)
	g.waitCovered(t, 3)

	admin := newClient(t, addr)
	for _, e := range es[1:] {
		m := member(e.Kind, e.Provider, e.Value)
		if err := admin.Del(t.Context(), writer.entryKey(m)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := admin.ZRem(t.Context(), writer.logKey, m).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.Set(t.Context(), writer.seqKey, 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	later := testEntries("later", 3)
	mustPutAll(t, writer, later...) // numbered 2 to 4: past the cursor's 3
	g.freshPull(t)
	g.pullOnce(t) // began after the previous pull, and its write-back, ended

	probe := newStore(t, addr, opts)
	for _, e := range es {
		if _, ok, err := probe.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok {
			t.Fatalf("%s %s not written back (err %v)", e.Kind, e.Value, err)
		}
	}
}
