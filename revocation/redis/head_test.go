package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// TestHeadIsWherePullEnds: the position Head reads is the one a pull that
// read everything returns.
func TestHeadIsWherePullEnds(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	mustPutAll(t, s, testEntries("head", 4)...)
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	next, _, err := s.Pull(t.Context(), revocation.Cursor{}, func(revocation.Entry) error { n++; return nil })
	if err != nil || next != head || n != 4 || head.Seq != 4 {
		t.Fatalf("Head = %+v; a full pull read %d entries and ended at %+v, %v", head, n, next, err)
	}
}

// headCounting is a replica's Store that counts its position reads.
type headCounting struct {
	*Store
	heads atomic.Int64
}

func (h *headCounting) Head(ctx context.Context) (revocation.Cursor, error) {
	h.heads.Add(1)
	return h.Store.Head(ctx)
}

// TestProbeReadsWhatSubscriptionLost: a replica whose probes read the
// store's position applies announced entries, and an entry whose
// announcement it never receives, after the announced ones, with no later
// message to show the gap: its probes read it from the change log.
func TestProbeReadsWhatSubscriptionLost(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	h := &headCounting{Store: newStore(t, addr, opts)}
	r, err := revocation.NewService(h, revocation.Options{MaxStaleness: time.Hour, ProbeInterval: 5 * time.Millisecond, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = r.Close()
	})
	writer := newStore(t, addr, opts)
	elsewhere := opts
	elsewhere.Channel += ":elsewhere"
	unheard := newStore(t, addr, elsewhere)

	es := testEntries("probed", 6)
	for i := range 4 {
		mustPutAll(t, writer, es[i])
		eventually(t, "announced entry applied", func() bool { return enforces(r, es[i]) })
	}
	eventually(t, "probes that read the position", func() bool { return h.heads.Load() > 0 })
	mustPutAll(t, unheard, es[4:]...)
	eventually(t, "unannounced entries applied", func() bool { return enforces(r, es[4]) && enforces(r, es[5]) })
}
