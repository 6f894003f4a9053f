package main

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/replay"
)

func TestReplayCacheFollowsTheStore(t *testing.T) {
	if _, ok := (&stores{}).newReplayCache().(*replay.Memory); !ok {
		t.Fatal("without Redis the replay cache must be the in-memory one")
	}
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	if _, ok := (&stores{redis: c}).newReplayCache().(*replay.Redis); !ok {
		t.Fatal("with Redis the replay cache must be shared through it")
	}
}
