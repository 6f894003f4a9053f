package redis

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// bigSet is a session set of n sessions "<prefix>-<i>".
func bigSet(prefix string, n int) revocation.Entry {
	var b revocation.SIDSetBuilder
	for i := range n {
		b.Add(fmt.Sprintf("%s-%d", prefix, i))
	}
	return revocation.Entry{Kind: revocation.KindSIDSet, Value: revocation.NewSetID(), Set: b.Set(),
		ExpiresAt: time.Now().Add(time.Hour).Unix()}
}

// enforcesSet reports whether r denies a few sessions of the set made by
// bigSet(prefix, n), and allows one outside it.
func enforcesSet(r *revocation.Service, prefix string, n int) bool {
	ix := r.Index()
	for _, i := range []int{0, n / 2, n - 1} {
		if ix.Check("corp", "", fmt.Sprintf("%s-%d", prefix, i), "", 0) != revocation.ErrRevoked {
			return false
		}
	}
	return ix.Check("corp", "", fmt.Sprintf("%s-%d", prefix, n), "", 0) == nil
}

// TestSessionSetReachesReplicas writes a set of 100,000 sessions through
// one replica and checks that it reaches the others by every path: the
// announcement, the change log (a set written unannounced, as a
// write-back does), a full listing (a replica started later), and the
// write-back after Redis restarted empty.
func TestSessionSetReachesReplicas(t *testing.T) {
	const n = 100_000
	srv := redisserver.New(t)
	store := Options{}
	opts := revocation.Options{ProbeInterval: 20 * time.Millisecond}
	writer := startReplica(t, srv.Addr(), store, opts)
	follower := startReplica(t, srv.Addr(), store, opts)

	announced := bigSet("ann", n)
	if err := writer.Revoke(t.Context(), announced); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the announced set enforced by the other replica", func() bool { return enforcesSet(follower, "ann", n) })

	// Restore writes without announcing: only the change log carries it.
	logged := bigSet("log", n)
	if err := newStore(t, srv.Addr(), store).Restore(t.Context(), []revocation.Entry{logged}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*revocation.Service{writer, follower} {
		eventually(t, "the unannounced set enforced after a pull", func() bool { return enforcesSet(r, "log", n) })
	}

	late := startReplica(t, srv.Addr(), store, opts)
	if !enforcesSet(late, "ann", n) || !enforcesSet(late, "log", n) {
		t.Fatal("a replica started later does not enforce the sets")
	}

	srv.Stop()
	srv.Start()
	probe := newStore(t, srv.Addr(), store)
	for _, want := range []revocation.Entry{announced, logged} {
		eventually(t, "the set written back with its content", func() bool {
			e, ok, err := probe.Get(t.Context(), revocation.KindSIDSet, "", want.Value)
			return err == nil && ok && e.Set.Equal(want.Set)
		})
	}
	fresh := startReplica(t, srv.Addr(), store, opts)
	if !enforcesSet(fresh, "ann", n) || !enforcesSet(fresh, "log", n) {
		t.Fatal("a replica started after the write-back does not enforce the sets")
	}
	if got := fresh.Index().SetSessions(); got != 2*n {
		t.Fatalf("SetSessions = %d, want %d", got, 2*n)
	}
}

// TestSessionSetCorruptChunkNotApplied corrupts a chunk of a set between
// its write and its announcement: no replica applies the set, each keeps
// trying, and once the content is right again they apply it.
func TestSessionSetCorruptChunkNotApplied(t *testing.T) {
	const n = 20_000
	addr := redisserver.Shared(t)
	store := uniqueOptions(t)
	var logs testkit.LogBuffer
	replicaStore := store
	replicaStore.Logger = logs.Logger(slog.LevelInfo)
	reg := prometheus.NewPedanticRegistry()
	replica := startReplica(t, addr, replicaStore, revocation.Options{ProbeInterval: 20 * time.Millisecond, Metrics: revocation.NewMetrics(reg)})

	w := newStore(t, addr, store)
	e := bigSet("bad", n)
	if err := w.writeSet(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, addr)
	chunk := w.setChunkKey(member(e.Kind, e.Provider, e.Value), 1)
	good, err := c.Get(t.Context(), chunk).Result()
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(good)
	bad[100] ^= 1
	if err := c.Do(t.Context(), "SET", chunk, string(bad), "KEEPTTL").Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.put(t.Context(), w.channel, []revocation.Entry{e}); err != nil {
		t.Fatal(err)
	}

	// The announcement, then pulls, each fail to load it: the pulls fail,
	// and the failures are logged once, not once a pull.
	eventually(t, "repeated failed pulls", func() bool { return failedPulls(t, reg) >= 3 })
	if n, failed := logs.Count("session set not loaded"), failedPulls(t, reg); n < 1 || float64(n) >= failed {
		t.Fatalf("load failure logged %d times for %v failed pulls, want once and then now and then:\n%s", n, failed, logs.String())
	}
	if got := replica.Index().Len(revocation.KindSIDSet); got != 0 {
		t.Fatalf("a set with a corrupt chunk was applied (%d sets)", got)
	}
	if got := replica.Index().Check("corp", "", "bad-1", "", 0); got != nil {
		t.Fatalf("Check = %v for a session of the unapplied set", got)
	}

	if err := c.Do(t.Context(), "SET", chunk, good, "KEEPTTL").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the set applied once its content is right", func() bool { return enforcesSet(replica, "bad", n) })
	eventually(t, "the recovery logged", func() bool { return logs.Count("session set loaded after failures") == 1 })
}

// failedPulls is the count of failed synchronisations (any mode) in reg.
func failedPulls(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "jwt_authz_revocation_syncs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "error" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// TestSessionSetContentKeys checks the stored layout: the header and each
// chunk carry the set's expiry, a second write of the set writes nothing
// new, and a set id that names other content is refused.
func TestSessionSetContentKeys(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	e := bigSet("keys", 3*setChunkHashes+5)
	if err := s.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, addr)
	m := member(e.Kind, e.Provider, e.Value)
	keys := []string{s.setHeaderKey(m)}
	for i := range 4 {
		keys = append(keys, s.setChunkKey(m, i))
	}
	for _, k := range keys {
		at, err := c.ExpireTime(t.Context(), k).Result()
		if err != nil || at != time.Duration(e.ExpiresAt)*time.Second {
			t.Fatalf("EXPIRETIME %s = %v, %v; want %d", k, at, err, e.ExpiresAt)
		}
	}
	if n, err := c.Exists(t.Context(), s.setChunkKey(m, 4)).Result(); err != nil || n != 0 {
		t.Fatalf("a fifth chunk exists for 4 chunks of content")
	}

	// A later record extends every key of the content.
	later := e
	later.ExpiresAt += 60
	if err := s.Put(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if at, _ := c.ExpireTime(t.Context(), k).Result(); at != time.Duration(later.ExpiresAt)*time.Second {
			t.Fatalf("EXPIRETIME %s = %v after a later record, want %d", k, at, later.ExpiresAt)
		}
	}

	other := bigSet("other", 10)
	other.Value = e.Value
	if err := newStore(t, addr, opts).Put(t.Context(), other); err == nil {
		t.Fatal("a set id naming other content was accepted")
	}
}
