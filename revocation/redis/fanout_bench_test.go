package redis

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// previousPutScript is the write of the version before batched
// announcements: one script call and one message per entry. The
// benchmarks below compare with it.
var previousPutScript = goredis.NewScript(`
local channel = ARGV[1]
local changed = 0
for i = 4, #KEYS do
  local a = 2 + (i - 4) * 4
  local m, exp, before, created = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local write = true
  local cur = redis.call('GET', KEYS[i])
  if cur then
    local ce, cb = string.match(cur, '^(%d+):(%d+):%d+$')
    if ce then
      local later = tonumber(exp) > tonumber(ce)
      local wider = tonumber(before) > tonumber(cb)
      if not later and not wider then
        write = false
      else
        if not later then exp = ce end
        if not wider then before = cb end
      end
    end
  end
  if write then
    local v = exp .. ':' .. before .. ':' .. created
    redis.call('SET', KEYS[i], v, 'EXAT', exp)
    local seq = redis.call('INCR', KEYS[3])
    redis.call('ZADD', KEYS[1], seq, m)
    redis.call('ZADD', KEYS[2], exp, m)
    if channel ~= '' then
      redis.call('PUBLISH', channel, v .. ':' .. m)
    end
    changed = changed + 1
  end
end
return changed
`)

// previousPut is Put as the previous version did it.
func previousPut(ctx context.Context, s *Store, e revocation.Entry) error {
	m := member(e.Kind, e.Provider, e.Value)
	return previousPutScript.Run(ctx, s.c, []string{s.logKey, s.expKey, s.seqKey, s.entryKey(m)},
		s.channel, m, e.ExpiresAt, e.Before, e.CreatedAt).Err()
}

// fanoutMode is one way of writing revocations.
type fanoutMode struct {
	name string
	put  func(ctx context.Context, s *Store, e revocation.Entry) error
	opts func(Options) Options
}

var fanoutModes = []fanoutMode{
	{"previous", previousPut, func(o Options) Options { o.AnnounceDelay = -1; return o }},
	{"batched", func(ctx context.Context, s *Store, e revocation.Entry) error { return s.Put(ctx, e) }, func(o Options) Options { return o }},
}

// countingConn counts the bytes a subscriber reads off its socket.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// subscriber is one replica's subscription, counting what reaches it.
type subscriber struct {
	wire     atomic.Int64 // bytes read off the socket
	messages atomic.Int64
	got      chan revocation.Entry
}

func startSubscriber(b *testing.B, addr string, opts Options) *subscriber {
	b.Helper()
	sub := &subscriber{got: make(chan revocation.Entry, 1<<16)}
	client := goredis.NewClient(&goredis.Options{Addr: addr, Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &sub.wire}, nil
	}})
	b.Cleanup(func() { _ = client.Close() })
	ps := client.Subscribe(b.Context(), opts.Channel)
	if _, err := ps.Receive(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ps.Close() })
	go func() {
		for m := range ps.Channel() {
			sub.messages.Add(1)
			a, err := decodeAnnouncement(m.Payload)
			if err != nil {
				b.Error(err)
				return
			}
			for _, e := range a.entries {
				sub.got <- e
			}
		}
	}()
	return sub
}

// BenchmarkFanoutIdle measures propagation of single revocations on an
// idle system, the previous way and batched, interleaved: from the call
// of Put to the entry's arrival at another replica's subscription.
func BenchmarkFanoutIdle(b *testing.B) {
	addr := redisserver.Shared(b)
	type run struct {
		mode  fanoutMode
		store *Store
		sub   *subscriber
		lat   []time.Duration
	}
	var runs []*run
	for _, m := range fanoutModes {
		opts := m.opts(uniqueOptions(b))
		runs = append(runs, &run{mode: m, store: newStore(b, addr, opts), sub: startSubscriber(b, addr, opts)})
	}
	exp := time.Now().Add(time.Hour).Unix()
	i := 0
	for b.Loop() {
		for _, r := range runs {
			e := revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("idle-%d", i), ExpiresAt: exp, CreatedAt: 1}
			start := time.Now()
			if err := r.mode.put(b.Context(), r.store, e); err != nil {
				b.Fatal(err)
			}
			if got := <-r.sub.got; got.Value != e.Value {
				b.Fatalf("got %s, want %s", got.Value, e.Value)
			}
			r.lat = append(r.lat, time.Since(start))
		}
		i++
	}
	for _, r := range runs {
		slices.Sort(r.lat)
		b.ReportMetric(float64(r.lat[len(r.lat)/2].Microseconds())/1000, r.mode.name+"-p50-ms")
		b.ReportMetric(float64(r.lat[len(r.lat)*99/100].Microseconds())/1000, r.mode.name+"-p99-ms")
	}
}

// BenchmarkFanout10k writes 10,000 revocations from 64 concurrent callers
// (an admin API under a burst, or a replica revoking sessions), the
// previous way and batched, interleaved, and counts what one subscribed
// replica receives: messages, payload bytes and bytes off its socket,
// per 10,000 revocations; and how long the writes took.
func BenchmarkFanout10k(b *testing.B) {
	const total, callers = 10_000, 64
	addr := redisserver.Shared(b)
	type run struct {
		mode                   fanoutMode
		store                  *Store
		sub                    *subscriber
		messages, wire, elapse int64
	}
	var runs []*run
	for _, m := range fanoutModes {
		opts := m.opts(uniqueOptions(b))
		runs = append(runs, &run{mode: m, store: newStore(b, addr, opts), sub: startSubscriber(b, addr, opts)})
	}
	exp := time.Now().Add(time.Hour).Unix()
	round := 0
	for b.Loop() {
		for _, r := range runs {
			msgs0, wire0 := r.sub.messages.Load(), r.sub.wire.Load()
			var next atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for range callers {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= total {
							return
						}
						// A UUID-sized jti, as most identity providers mint.
						v := fmt.Sprintf("%08d-%04d-4000-8000-%012d", round, 0, i)
						if err := r.mode.put(b.Context(), r.store, revocation.Entry{Kind: revocation.KindJTI, Value: v, ExpiresAt: exp, CreatedAt: time.Now().UnixMilli()}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			r.elapse += int64(time.Since(start))
			for range total {
				<-r.sub.got
			}
			r.messages += r.sub.messages.Load() - msgs0
			r.wire += r.sub.wire.Load() - wire0
		}
		round++
	}
	for _, r := range runs {
		n := float64(round)
		b.ReportMetric(float64(r.messages)/n, r.mode.name+"-msgs/10k")
		b.ReportMetric(float64(r.wire)/n/1024, r.mode.name+"-KiB/10k")
		b.ReportMetric(float64(r.elapse)/n/1e6, r.mode.name+"-write-ms/10k")
	}
}
