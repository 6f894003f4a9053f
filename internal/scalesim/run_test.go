package scalesim

import (
	"context"
	"strconv"
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

func TestRunRejectsBadConfig(t *testing.T) {
	client := func() goredis.UniversalClient { return goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}) }
	for name, cfg := range map[string]Config{
		"no client":     {Replicas: 1, Sessions: 1},
		"no replicas":   {NewClient: client, Sessions: 1},
		"nothing":       {NewClient: client, Replicas: 1},
		"no rate":       {NewClient: client, Replicas: 1, Revocations: 1},
		"too many":      {NewClient: client, Replicas: 100_000, Sessions: 1_000_000},
		"negative size": {NewClient: client, Replicas: 1, Sessions: -1},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: Run accepted %+v", name, cfg)
		}
	}
}
