package scalesim

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

func TestRunSmallOverRealRedis(t *testing.T) {
	addr := redisserver.Shared(t)
	// A prefix of its own per run: the shared server may hold an earlier
	// run's entries, which the replicas would load.
	prefix := "scalesim-test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	cfg := Config{
		NewClient: func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: addr}) },
		Store:     revredis.Options{KeyPrefix: prefix, Channel: prefix + "announce"},
		Replicas:  3,
		// A rate far above what the test machine writes keeps the test fast;
		// the pacing path still runs.
		Revocations: 60,
		Rate:        100_000,
		Sessions:    200,
		Writers:     4,
		// The mass logout as one entry.
		ProviderLogout: true,
		Progress:       t.Logf,
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phases) != 3 {
		t.Fatalf("got %d phases, want 3 (single, sids, provider)", len(res.Phases))
	}
	for i, want := range []int{60, 200, 1} {
		p := res.Phases[i]
		if p.Entries != want || p.WriteErrors != 0 {
			t.Errorf("%s: %d entries, %d write errors; want %d, 0", p.Name, p.Entries, p.WriteErrors, want)
		}
		if p.Lost != 0 || p.Applied != int64(want*cfg.Replicas) {
			t.Errorf("%s: applied %d, lost %d; want %d, 0", p.Name, p.Applied, p.Lost, want*cfg.Replicas)
		}
		if p.Max < p.P99 || p.P99 < p.P50 || p.Complete <= 0 {
			t.Errorf("%s: p50 %v p99 %v max %v complete %v out of order", p.Name, p.P50, p.P99, p.Max, p.Complete)
		}
		if p.RedisOut <= 0 || p.RedisCommands <= 0 {
			t.Errorf("%s: Redis usage not measured: out %d bytes, %d commands", p.Name, p.RedisOut, p.RedisCommands)
		}
		if p.RedisMessages < 1 || p.RedisMessages > int64(want) {
			t.Errorf("%s: %d messages published for %d entries; want 1 to %d", p.Name, p.RedisMessages, want, want)
		}
	}
	if res.IndexEntries != 261 {
		t.Errorf("replicas hold %.1f index entries on average, want 261", res.IndexEntries)
	}
	if res.HeapPerReplica == 0 {
		t.Error("heap per replica not measured")
	}
}

// TestRunWithListeners runs full replicas among listeners and makes one
// listener lose one message: its entries must show as lost on that
// listener alone, and every other (replica, entry) pair as delivered.
func TestRunWithListeners(t *testing.T) {
	addr := redisserver.Shared(t)
	prefix := "scalesim-test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	const victim = 2
	var (
		mu      sync.Mutex
		dropped uint64 // entries of the message the victim lost
	)
	cfg := Config{
		NewClient:    func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: addr}) },
		Store:        revredis.Options{KeyPrefix: prefix, Channel: prefix + "announce"},
		Replicas:     6,
		FullReplicas: 2,
		Revocations:  80,
		Rate:         100_000,
		Sessions:     50,
		Writers:      4,
		// No pull after the start: what a message brought, only a message
		// brings.
		ProbeInterval: time.Hour,
		SyncInterval:  time.Hour,
		Progress:      t.Logf,
		loseMessage: func(listener int, after, through uint64) bool {
			mu.Lock()
			defer mu.Unlock()
			if listener != victim || dropped != 0 {
				return false
			}
			dropped = through - after
			return true
		},
	}
	if got := fullPlaces(6, 2); !slices.Equal(got, []bool{false, true, false, false, true, false}) {
		t.Fatalf("full replicas at %v, want places 1 and 4", got)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.FullReplicas != 2 || len(res.Phases) != 2 {
		t.Fatalf("%d full replicas, %d phases; want 2 and 2", res.FullReplicas, len(res.Phases))
	}
	single := res.Phases[0]
	mu.Lock()
	lostByVictim := int64(dropped)
	mu.Unlock()
	if lostByVictim == 0 {
		t.Fatal("the victim lost no message")
	}
	for i, want := range []int64{80, 50} {
		p := res.Phases[i]
		lost := int64(0)
		if i == 0 {
			lost = lostByVictim
		}
		if p.WriteErrors != 0 || p.Lost != 0 || p.Applied != want*2 {
			t.Errorf("%s: full replicas applied %d, lost %d, %d write errors; want %d, 0, 0", p.Name, p.Applied, p.Lost, p.WriteErrors, want*2)
		}
		d := p.Listeners
		if d.Lost != lost || d.Delivered != want*4-lost {
			t.Errorf("%s: listeners delivered %d, lost %d; want %d, %d", p.Name, d.Delivered, d.Lost, want*4-lost, lost)
		}
		if d.Max < d.P99 || d.P99 < d.P50 || d.Complete <= 0 {
			t.Errorf("%s: listeners p50 %v p99 %v max %v complete %v out of order", p.Name, d.P50, d.P99, d.Max, d.Complete)
		}
	}
	if single.Listeners.ShortMessages != 1 {
		t.Errorf("%d uncredited messages, want the one lost", single.Listeners.ShortMessages)
	}
	if res.IndexEntries != 130 {
		t.Errorf("full replicas hold %.1f index entries on average, want 130", res.IndexEntries)
	}
	var out strings.Builder
	if err := res.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| single jti | full (2) | 80 | 0 |", "| single jti | listeners (4) | 80 | 0 |",
		fmt.Sprintf("| %d | %d | 0 | 1 | 0 | 0 | 0 |\n", 80*4-lostByVictim, lostByVictim)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	client := func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}) }
	for name, cfg := range map[string]Config{
		"no client":     {Replicas: 1, Sessions: 1},
		"no replicas":   {NewClient: client, Sessions: 1},
		"nothing":       {NewClient: client, Replicas: 1},
		"no rate":       {NewClient: client, Replicas: 1, Revocations: 1},
		"too many":      {NewClient: client, Replicas: 100_000, Sessions: 1_000_000},
		"negative size": {NewClient: client, Replicas: 1, Sessions: -1},
		"full > all":    {NewClient: client, Replicas: 2, FullReplicas: 3, Sessions: 1},
		"negative full": {NewClient: client, Replicas: 2, FullReplicas: -1, Sessions: 1},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: Run accepted %+v", name, cfg)
		}
	}
}

// TestRunSessionSet logs out a set of sessions as one entry: every full
// replica applies it with its content, every listener has it delivered
// (its Store reads the content too), and the content shows in Redis's
// bytes out: at least 5 bytes per session (the coded content) per replica.
func TestRunSessionSet(t *testing.T) {
	addr := redisserver.Shared(t)
	prefix := "scalesim-test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	const n = 50_000
	cfg := Config{
		NewClient:    func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: addr}) },
		Store:        revredis.Options{KeyPrefix: prefix, Channel: prefix + "announce"},
		Replicas:     4,
		FullReplicas: 2,
		SessionSet:   n,
		Progress:     t.Logf,
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phases) != 1 {
		t.Fatalf("got %d phases, want 1", len(res.Phases))
	}
	p := res.Phases[0]
	if p.Entries != 1 || p.WriteErrors != 0 || p.Applied != 2 || p.Lost != 0 || p.Listeners.Delivered != 2 || p.Listeners.Lost != 0 {
		t.Fatalf("%s: %+v", p.Name, p)
	}
	if p.RedisOut < 5*n*4 {
		t.Errorf("Redis sent %d bytes, less than the set's content to each of the 4 replicas", p.RedisOut)
	}
	if res.IndexEntries != 1 {
		t.Errorf("full replicas hold %.1f index entries, want the one set", res.IndexEntries)
	}
}

// TestReportUnmeasuredListeners keeps a phase's row when the listeners
// could not be timed, and says why.
func TestReportUnmeasuredListeners(t *testing.T) {
	res := &Result{Replicas: 3, FullReplicas: 1, Phases: []Phase{{
		Name: "single jti", Entries: 5, Applied: 5,
		Listeners: Delivery{Unmeasured: "scalesim: read the change log: i/o timeout"},
	}}}
	var out strings.Builder
	if err := res.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| single jti | full (1) | 5 | 0 |", "| single jti | listeners (2): not measured (scalesim: read the change log: i/o timeout) |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunWithRawListeners runs a full replica among raw listeners and
// makes one raw listener drop one message: it shows as missed on that
// listener alone, and every other raw listener receives every message
// published.
func TestRunWithRawListeners(t *testing.T) {
	addr := redisserver.Shared(t)
	prefix := "scalesim-test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	const victim = 1
	var (
		mu      sync.Mutex
		dropped uint64 // first sequence number of the message the victim dropped
	)
	cfg := Config{
		NewClient:    func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: addr}) },
		Store:        revredis.Options{KeyPrefix: prefix, Channel: prefix + "announce"},
		Replicas:     5,
		FullReplicas: 1,
		RawListeners: true,
		Revocations:  80,
		Rate:         100_000,
		Sessions:     50,
		Writers:      4,
		Progress:     t.Logf,
		withholdRaw: func(listener int, first uint64) bool {
			mu.Lock()
			defer mu.Unlock()
			if listener != victim || dropped != 0 || first == 0 {
				return false
			}
			dropped = first
			return true
		},
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RawListeners != 4 || len(res.Phases) != 2 {
		t.Fatalf("%d raw listeners, %d phases; want 4 and 2", res.RawListeners, len(res.Phases))
	}
	mu.Lock()
	if dropped == 0 {
		t.Fatal("the victim dropped no message")
	}
	mu.Unlock()
	for i, want := range []int64{80, 50} {
		p := res.Phases[i]
		if p.WriteErrors != 0 || p.Lost != 0 || p.Applied != want {
			t.Errorf("%s: full replica applied %d, lost %d, %d write errors; want %d, 0, 0", p.Name, p.Applied, p.Lost, p.WriteErrors, want)
		}
		r := p.Raw
		missed := int64(0)
		if i == 0 {
			missed = 1
		}
		if r.Published < 1 || r.Published > want || r.Published != p.RedisMessages {
			t.Errorf("%s: %d messages published (Redis counted %d) for %d entries", p.Name, r.Published, p.RedisMessages, want)
		}
		if r.Missed != missed || r.MaxReceived != r.Published || r.MinReceived != r.Published-missed || r.Received != 4*r.Published-missed {
			t.Errorf("%s: received %d (%d to %d) of %d, missed %d; want every one, %d missed", p.Name, r.Received, r.MinReceived, r.MaxReceived,
				r.Published, r.Missed, missed)
		}
		// The dropped message's entries are missing; every other one
		// counts once per raw listener.
		if lacking := 4*want - r.Delivered; (missed == 0) != (lacking == 0) || lacking < 0 || lacking > want {
			t.Errorf("%s: raw listeners got %d entries of %d", p.Name, r.Delivered, 4*want)
		}
		if r.Max < r.P99 || r.P99 < r.P50 || r.Complete <= 0 || r.Bytes <= 0 || r.Unmeasured != "" {
			t.Errorf("%s: raw listeners %+v", p.Name, r)
		}
	}
	var out strings.Builder
	if err := res.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	p := res.Phases[0]
	for _, want := range []string{"| single jti | full (1) | 80 | 0 |",
		fmt.Sprintf("| single jti | raw (4) | %d | %d / %d | 1 |", p.Raw.Published, p.Raw.Published-1, p.Raw.Published)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "listeners (0)") {
		t.Errorf("report has a row for listeners there are none of:\n%s", out.String())
	}
}

func TestFirstSeq(t *testing.T) {
	for payload, want := range map[string]uint64{
		"c:\x05\x01":       5,
		"c:\x80\x01\x01":   128,
		"b:42:1:0:0:3:j:x": 42,
		"c:":               0,
		"c:\x80":           0,
		"1:0:0:j:x":        0,
	} {
		if got := firstSeq(payload); got != want {
			t.Errorf("firstSeq(%q) = %d, want %d", payload, got, want)
		}
	}
}

// TestRunRawListenersOnCluster runs raw listeners on a Redis Cluster, where
// the product announces with SPUBLISH: they subscribe as it does
// (SSUBSCRIBE, or SUBSCRIBE with PlainPubSub) and receive every message.
func TestRunRawListenersOnCluster(t *testing.T) {
	cs := redisserver.NewCluster(t)
	newClient := func() goredis.UniversalClient {
		return revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
	}
	for _, plain := range []bool{false, true} {
		tag := "{scalesim-test-" + strconv.FormatBool(plain) + "}:"
		opts := revredis.Options{Cluster: true, PlainPubSub: plain, KeyPrefix: tag, Channel: tag + "announce"}
		admin := newClient()
		sharded, err := shardedPubSub(context.Background(), admin, opts, tag)
		_ = admin.Close()
		if err != nil || sharded == plain {
			t.Fatalf("plain pub/sub %v: sharded %v, %v; want %v", plain, sharded, err, !plain)
		}
		res, err := Run(context.Background(), Config{
			NewClient: newClient, Store: opts,
			Replicas: 3, FullReplicas: 1, RawListeners: true,
			Revocations: 30, Rate: 100_000, Writers: 4,
			Progress: t.Logf,
		})
		if err != nil {
			t.Fatal(err)
		}
		p := res.Phases[0]
		if r := p.Raw; p.Lost != 0 || r.Published < 1 || r.MinReceived != r.Published || r.Missed != 0 || r.Delivered != 60 {
			t.Errorf("plain pub/sub %v: full replica lost %d; raw listeners %+v", plain, p.Lost, r)
		}
	}
}
