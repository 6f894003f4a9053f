package redis

import (
	"sync"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// Dedicated connections (Client.Conn, which the session store uses to
// wait for a replica on the connection that wrote) and pooled ones are
// opened at once on fresh clients of both kinds. With go-redis's default
// maintenance-notification handshake, which a server without it refuses,
// the first refusal rewrote the client's options from one of them while
// another read them: a data race under -race. The clients made here do
// not try the handshake.
func TestConnectionsOpenConcurrently(t *testing.T) {
	addr := redisserver.Shared(t)
	c, err := NewClient("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			conn := c.Conn()
			defer conn.Close()
			if err := conn.Ping(t.Context()).Err(); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := c.Ping(t.Context()).Err(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
