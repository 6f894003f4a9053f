package scalesim

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// TestRunSessionSetOnSentinelReplicas logs out a set of sessions on a
// Sentinel primary and its replica, every replica reading the content
// through a reader that spreads reads over both: every full replica
// applies it and every raw listener reads it whole (as many bytes each as
// the content holds), none is lost, and the usage is reported for both
// nodes, the replica serving some of the chunk reads.
func TestRunSessionSetOnSentinelReplicas(t *testing.T) {
	st := redisserver.NewSentinel(t)
	so := revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}, Password: st.Password}
	const (
		n        = 50_000 // 7 chunks: two MGETs a read
		replicas = 12
		full     = 2
		raws     = replicas - full
	)
	cfg := Config{
		NewClient:      func() goredis.UniversalClient { return revredis.NewSentinelClient(so) },
		NewSetReader:   func() goredis.UniversalClient { return revredis.NewSentinelReadClient(so) },
		NewNodesClient: func() goredis.UniversalClient { return revredis.NewSentinelReadClient(so) },
		Store:          revredis.Options{KeyPrefix: "scalesim-test:", Channel: "scalesim-test:announce"},
		Replicas:       replicas,
		FullReplicas:   full,
		RawListeners:   true,
		SessionSet:     n,
		Progress:       t.Logf,
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phases) != 1 || res.RawListeners != raws {
		t.Fatalf("%d phases, %d raw listeners; want 1 and %d", len(res.Phases), res.RawListeners, raws)
	}
	p := res.Phases[0]
	if p.Entries != 1 || p.WriteErrors != 0 || p.Applied != full || p.Lost != 0 {
		t.Fatalf("%s: full replicas applied %d, lost %d, %d write errors; want %d, 0, 0", p.Name, p.Applied, p.Lost, p.WriteErrors, full)
	}
	r := p.Raw
	if r.Published != 1 || r.Missed != 0 || r.SetReads != raws || r.SetUnread != 0 || r.Delivered != raws {
		t.Fatalf("%s: raw listeners %+v; want every one to receive the message and read the set", p.Name, r)
	}
	if p.SetContentBytes < 5*n || r.SetBytes != raws*p.SetContentBytes {
		t.Errorf("raw listeners read %d bytes of a %d-byte content; want %d × the content, at least 5 bytes a session",
			r.SetBytes, p.SetContentBytes, raws)
	}
	if r.Max < r.P99 || r.P99 < r.P50 || r.Complete <= 0 {
		t.Errorf("raw listeners' reads: p50 %v p99 %v max %v complete %v out of order", r.P50, r.P99, r.Max, r.Complete)
	}
	roles := map[string]NodeUsage{}
	var mgets int64
	for _, node := range p.RedisNodes {
		roles[node.Role] = node
		mgets += node.MGets
		if node.Out <= 0 || node.Commands <= 0 {
			t.Errorf("node %s (%s): out %d bytes, %d commands; want usage", node.Addr, node.Role, node.Out, node.Commands)
		}
	}
	// The sentinel's read client names the nodes by port alone
	// (":port"): compare the ports.
	if len(p.RedisNodes) != 2 || port(roles["master"].Addr) != port(st.Primary.Addr()) || port(roles["slave"].Addr) != port(st.Replica.Addr()) {
		t.Fatalf("usage of %+v; want the primary %s and the replica %s", p.RedisNodes, st.Primary.Addr(), st.Replica.Addr())
	}
	// Each of the 12 reads makes two MGETs, each to either node at
	// random: the replica serves some unless 2^-24 odds come up.
	if mgets < 2*replicas || mgets != p.RedisMGets || roles["slave"].MGets == 0 {
		t.Errorf("MGETs: %d on the primary, %d on the replica (%d counted); want at least %d, some on the replica",
			roles["master"].MGets, roles["slave"].MGets, p.RedisMGets, 2*replicas)
	}
	var out strings.Builder
	if err := res.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| " + p.Name + " | " + roles["master"].Addr + " | master", "| " + p.Name + " | " + roles["slave"].Addr + " | slave", ", busiest |",
		"| " + p.Name + " | raw (10) | 1 | 1 / 1 | 0 | 10 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestRunRawSetReadsRetried fails raw listeners' reads of the set: one
// fails twice and then reads it, counted with its failed reads; one never
// reads it and counts as not delivered once the settle window ends.
func TestRunRawSetReadsRetried(t *testing.T) {
	addr := redisserver.Shared(t)
	prefix := "scalesim-test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	const (
		late, never = 0, 1
		raws        = 3
	)
	var (
		mu       sync.Mutex
		lateFail = 2
	)
	res, err := Run(context.Background(), Config{
		NewClient:    func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: addr}) },
		Store:        revredis.Options{KeyPrefix: prefix, Channel: prefix + "announce"},
		Replicas:     raws + 1,
		FullReplicas: 1,
		RawListeners: true,
		SessionSet:   1000,
		// The listener that never reads the set holds the phase this long.
		Settle:   time.Second,
		Progress: t.Logf,
		failSetRead: func(listener int) bool {
			mu.Lock()
			defer mu.Unlock()
			switch listener {
			case never:
				return true
			case late:
				lateFail--
				return lateFail >= 0
			}
			return false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Phases[0]
	r := p.Raw
	if p.Applied != 1 || r.Missed != 0 || r.SetReads != raws-1 || r.Delivered != raws-1 || r.SetUnread != 1 || r.SetBytes != (raws-1)*p.SetContentBytes {
		t.Fatalf("%s: full replica applied %d; raw listeners %+v; want %d reads of %d bytes, 1 never", p.Name, p.Applied, r, raws-1, p.SetContentBytes)
	}
	// The listener that never read it failed at least once; the late one
	// twice.
	if r.SetReadErrors < 3 {
		t.Errorf("%d failed reads counted, want at least 3", r.SetReadErrors)
	}
	var out strings.Builder
	if err := res.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("| %s | %.2f | 2 | 1 | %d |", p.Name, float64(p.SetContentBytes)/1e6, r.SetReadErrors); !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
}

// TestRunForeignPublishesNotCounted publishes hello messages as Redis
// Sentinel does, on the store's server during a phase: they are not taken
// for announcements, so every raw listener has received every message
// published, none missed.
func TestRunForeignPublishesNotCounted(t *testing.T) {
	addr := redisserver.Shared(t)
	prefix := "scalesim-test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	foreign := goredis.NewClient(&goredis.Options{Addr: addr})
	defer foreign.Close()
	var hellos int
	res, err := Run(context.Background(), Config{
		NewClient:    func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: addr}) },
		Store:        revredis.Options{KeyPrefix: prefix, Channel: prefix + "announce"},
		Replicas:     3,
		FullReplicas: 1,
		RawListeners: true,
		SessionSet:   1000,
		Progress: func(format string, args ...any) {
			t.Logf(format, args...)
			if !strings.Contains(format, "written in") {
				return
			}
			// Between the phase's first reading of the PUBLISH count and
			// the one its raw listeners' goal is set from.
			for range 3 {
				if err := foreign.Publish(context.Background(), sentinelHello, "hello").Err(); err != nil {
					t.Error(err)
				}
				hellos++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Phases[0].Raw
	if hellos != 3 || r.Published != 1 || r.MinReceived != 1 || r.Missed != 0 || r.SetReads != 2 {
		t.Fatalf("%d hellos; raw listeners %+v; want 1 message published and received by both, the set read by both", hellos, r)
	}
}

// TestRunSessionSetOnClusterReplicas logs out a set of sessions in a
// Cluster whose primaries have a replica each, every replica reading the
// content through a Cluster reader that spreads reads over the primary
// and the replica of the keys' slot: every raw listener reads it, the
// announcement counts once (on the primary), and the nodes' usage is
// reported, the set's reads on the keys' primary and replica alone.
func TestRunSessionSetOnClusterReplicas(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	o := revredis.ClusterOptions{Addrs: cs.Addrs()}
	const (
		n        = 50_000 // two MGETs a read
		replicas = 5
		raws     = replicas - 1
	)
	tag := "{scalesim-test-replicas}:"
	res, err := Run(context.Background(), Config{
		NewClient:    func() goredis.UniversalClient { return revredis.NewClusterClient(o) },
		NewSetReader: func() goredis.UniversalClient { return revredis.NewClusterReadClient(o) },
		Store:        revredis.Options{Cluster: true, KeyPrefix: tag, Channel: tag + "announce"},
		Replicas:     replicas,
		FullReplicas: 1,
		RawListeners: true,
		SessionSet:   n,
		Progress:     t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Phases[0]
	r := p.Raw
	if p.Applied != 1 || p.Lost != 0 || r.Published != 1 || r.Missed != 0 || r.SetReads != raws || r.SetBytes != raws*p.SetContentBytes {
		t.Fatalf("%s: full replica applied %d, lost %d; raw listeners %+v", p.Name, p.Applied, p.Lost, r)
	}
	// The replicas show in the Cluster's view once they have synced: the
	// primaries are there, and the reads on at most the keys' primary and
	// its replica.
	var primaries, reading int
	for _, node := range p.RedisNodes {
		if node.Role == "master" {
			primaries++
		}
		if node.MGets > 0 {
			reading++
		}
	}
	if primaries != 3 || reading == 0 || reading > 2 {
		t.Errorf("usage of %+v; want 3 primaries, the reads on the keys' primary and replica", p.RedisNodes)
	}
}
