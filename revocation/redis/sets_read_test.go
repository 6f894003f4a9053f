package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// mgetCalls returns how many MGET commands the server at addr has run.
func mgetCalls(t *testing.T, addr, password string) int {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Password: password})
	defer c.Close()
	stats, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	v := infoField(stats, "cmdstat_mget")
	calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
	n, _ := strconv.Atoi(calls)
	return n
}

// chunksOn returns how many of e's chunks the server at addr holds.
func chunksOn(t *testing.T, s *Store, addr, password string, e revocation.Entry) int {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Password: password})
	defer c.Close()
	if err := c.ReadOnly(t.Context()).Err(); err != nil && !strings.Contains(err.Error(), "cluster support disabled") {
		t.Fatal(err)
	}
	m := member(e.Kind, e.Provider, e.Value)
	_, h := setContent(e.Set, e.ExpiresAt)
	n := 0
	for i := range h.chunks {
		if c.Exists(t.Context(), s.setChunkKey(m, i)).Val() == 1 {
			n++
		}
	}
	return n
}

// loadedEqual loads e's set through s as a replica does and compares it.
func loadedEqual(t *testing.T, s *Store, e revocation.Entry) {
	t.Helper()
	got := e
	got.Set = nil
	if err := s.loadSet(t.Context(), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Set.Equal(e.Set) {
		t.Fatal("the set read back differs from the set written")
	}
}

// TestSessionSetReadFromSentinelReplicas writes a set through a Sentinel
// primary and reads it through NewSentinelReadClient: the write waits
// until the replica holds every chunk, and reads spread over the primary
// and the replica, none of them read again from the primary.
func TestSessionSetReadFromSentinelReplicas(t *testing.T) {
	st := redisserver.NewSentinel(t)
	so := SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}, Password: st.Password}
	reader := NewSentinelReadClient(so)
	t.Cleanup(func() { _ = reader.Close() })
	reg := prometheus.NewPedanticRegistry()
	opts := uniqueOptions(t)
	opts.SetReader, opts.Metrics = reader, NewMetrics(reg)
	w, err := New(newSentinelClient(t, st), opts)
	if err != nil {
		t.Fatal(err)
	}
	w.setWait = time.Minute // a slow machine only delays the test
	e := bigSet("sentinel", 50_000)
	if err := w.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	_, h := setContent(e.Set, e.ExpiresAt)
	if got := chunksOn(t, w, st.Replica.Addr(), st.Password, e); got != h.chunks {
		t.Fatalf("the replica holds %d of %d chunks when Put returns", got, h.chunks)
	}

	r, err := New(newSentinelClient(t, st), opts)
	if err != nil {
		t.Fatal(err)
	}
	loadedEqual(t, r, e)
	primaryBefore, replicaBefore := mgetCalls(t, st.Primary.Addr(), st.Password), mgetCalls(t, st.Replica.Addr(), st.Password)
	const reads = 20
	for range reads {
		n, err := r.ReadSetContent(t.Context(), e.Provider, e.Value)
		if err != nil {
			t.Fatal(err)
		}
		if n <= 0 {
			t.Fatalf("ReadSetContent read %d bytes", n)
		}
	}
	primary := mgetCalls(t, st.Primary.Addr(), st.Password) - primaryBefore
	replica := mgetCalls(t, st.Replica.Addr(), st.Password) - replicaBefore
	calls := reads * ((h.chunks + setChunksPerCall - 1) / setChunksPerCall)
	// Each MGET goes to either node at random: both get some of them
	// unless 2^-calls odds come up.
	if primary+replica != calls || primary == 0 || replica == 0 {
		t.Fatalf("MGETs: %d on the primary, %d on the replica; want %d spread over both", primary, replica, calls)
	}
	if got := testutil.ToFloat64(opts.Metrics.setFallbacks); got != 0 {
		t.Fatalf("%v reads fell back to the primary, want 0", got)
	}
}

// TestSessionSetReaderFallsBack reads a set through a reader that lacks
// its content, then through one that holds corrupt content: each load is
// made again from the primary, checked, and counted.
func TestSessionSetReaderFallsBack(t *testing.T) {
	addr := redisserver.Shared(t)
	other := redisserver.New(t)
	opts := uniqueOptions(t)
	w := newStore(t, addr, opts)
	e := bigSet("fallback", 20_000)
	if err := w.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry()
	ropts := opts
	ropts.SetReader, ropts.Metrics = newClient(t, other.Addr()), NewMetrics(reg)
	empty := newStore(t, addr, ropts)
	loadedEqual(t, empty, e)
	if _, err := empty.ReadSetContent(t.Context(), e.Provider, e.Value); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(ropts.Metrics.setFallbacks); got != 2 {
		t.Fatalf("%v reads fell back to the primary, want 2", got)
	}

	// The other server holds every chunk, one of them altered.
	m := member(e.Kind, e.Provider, e.Value)
	chunks, _ := setContent(e.Set, e.ExpiresAt)
	oc := newClient(t, other.Addr())
	for i, c := range chunks {
		if i == 1 {
			b := []byte(c)
			b[10] ^= 1
			c = string(b)
		}
		if err := oc.Set(t.Context(), w.setChunkKey(m, i), c, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ropts.Metrics = NewMetrics(prometheus.NewPedanticRegistry())
	corrupt := newStore(t, addr, ropts)
	loadedEqual(t, corrupt, e)
	if got := testutil.ToFloat64(ropts.Metrics.setFallbacks); got != 1 {
		t.Fatalf("%v reads fell back to the primary, want 1", got)
	}
}

// TestSessionSetReadFromClusterReplicas writes a set in a Cluster with a
// replica per primary and reads it through NewClusterReadClient: the
// replica of the store's slot holds it when Put returns, and reads of it
// reach both nodes of that slot.
func TestSessionSetReadFromClusterReplicas(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	// The replicas join their primaries after the Cluster is formed; the
	// reader learns them from its first slot map.
	seed := newClient(t, cs.Nodes[0].Addr())
	eventually(t, "every slot served by a primary and a replica", func() bool {
		slots, err := seed.ClusterSlots(t.Context()).Result()
		if err != nil || len(slots) == 0 {
			return false
		}
		for _, s := range slots {
			if len(s.Nodes) < 2 {
				return false
			}
		}
		return true
	})
	reader := NewClusterReadClient(ClusterOptions{Addrs: cs.Addrs()})
	t.Cleanup(func() { _ = reader.Close() })
	opts := clusterOptions(t, false)
	opts.SetReader = reader
	w, err := New(newClusterClient(t, cs), opts)
	if err != nil {
		t.Fatal(err)
	}
	w.setWait = time.Minute
	e := bigSet("cluster", 50_000)
	if err := w.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	primary := cs.PrimaryFor(t, w.seqKey)
	_, h := setContent(e.Set, e.ExpiresAt)
	held := 0
	for _, n := range cs.Nodes {
		if n != primary && chunksOn(t, w, n.Addr(), "", e) == h.chunks {
			held++
		}
	}
	if held == 0 {
		t.Fatal("no replica of the store's slot holds the set when Put returns")
	}

	r, err := New(newClusterClient(t, cs), opts)
	if err != nil {
		t.Fatal(err)
	}
	loadedEqual(t, r, e)
	before := make(map[string]int)
	for _, n := range cs.Nodes {
		before[n.Addr()] = mgetCalls(t, n.Addr(), "")
	}
	for range 20 {
		if _, err := r.ReadSetContent(context.Background(), e.Provider, e.Value); err != nil {
			t.Fatal(err)
		}
	}
	onReplicas := 0
	for _, n := range cs.Nodes {
		if n != primary {
			onReplicas += mgetCalls(t, n.Addr(), "") - before[n.Addr()]
		}
	}
	if onReplicas == 0 || mgetCalls(t, primary.Addr(), "") == before[primary.Addr()] {
		t.Fatalf("reads did not spread over the slot's primary and replica (%d on replicas)", onReplicas)
	}
}
