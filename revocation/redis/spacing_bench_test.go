package redis

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// benchEnv reads a positive integer knob of BenchmarkWriters from the
// environment.
func benchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkWriters writes single revocations spread over several writers
// (Stores with clients of their own, as replicas whose admin APIs take
// revocations), paced to a total rate, with the default batching and
// spacing, to a channel with many subscribers; one of them counts what it
// receives. It reports, per 1,000 entries, the messages and script calls,
// Redis's CPU time per entry (INFO cpu, the server's whole), and the
// delivery delay from a Put's return to the counting subscriber (p50,
// p99). Knobs (environment): SPACING_WRITERS (8), SPACING_SUBSCRIBERS
// (100), SPACING_RATE (entries a second over all writers, 2000),
// SPACING_ENTRIES (4000 a round).
func BenchmarkWriters(b *testing.B) {
	writers := benchEnv("SPACING_WRITERS", 8)
	subscribers := benchEnv("SPACING_SUBSCRIBERS", 100)
	perSecond := benchEnv("SPACING_RATE", 2000)
	total := benchEnv("SPACING_ENTRIES", 4000)
	addr := redisserver.Shared(b)
	opts := uniqueOptions(b)
	admin := newClient(b, addr)

	// The subscribers: one counts, the others only read.
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	var messages int64
	// allIn is closed once arrived holds want values: every entry of the
	// round being written.
	var want int
	var allIn chan struct{}
	counting := newClient(b, addr).Subscribe(b.Context(), opts.Channel)
	if _, err := counting.Receive(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = counting.Close() })
	go func() {
		for m := range counting.Channel() {
			now := time.Now()
			a, err := decodeAnnouncement(m.Payload)
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			messages++
			for _, e := range a.entries {
				arrived[e.Value] = now
			}
			if allIn != nil && len(arrived) >= want {
				close(allIn)
				allIn = nil
			}
			mu.Unlock()
		}
	}()
	for range subscribers - 1 {
		ps := newClient(b, addr).Subscribe(b.Context(), opts.Channel)
		if _, err := ps.Receive(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ps.Close() })
		go func() {
			for range ps.Channel() {
			}
		}()
	}
	stores := make([]*Store, writers)
	for i := range stores {
		stores[i] = newStore(b, addr, opts)
	}

	exp := time.Now().Add(time.Hour).Unix()
	var msgs, calls, cpu float64
	var delays []time.Duration
	round := 0
	for b.Loop() {
		mu.Lock()
		msgs0 := messages
		want, allIn = len(arrived)+total, make(chan struct{})
		done := allIn
		mu.Unlock()
		calls0, cpu0 := redisCalls(b, admin), redisCPU(b, admin)
		returned := make([]time.Time, total)
		values := make([]string, total)
		var wg sync.WaitGroup
		// The writers share one pace: perSecond entries a second in all.
		pace := rate.NewLimiter(rate.Limit(perSecond), 1)
		for w, s := range stores {
			wg.Go(func() {
				// Writer w writes entries w, w+writers, ...
				for i := w; i < total; i += writers {
					if err := pace.Wait(b.Context()); err != nil {
						b.Error(err)
						return
					}
					values[i] = fmt.Sprintf("%08d-%04d-4000-8000-%012d", round, w, i)
					e := revocation.Entry{Kind: revocation.KindJTI, Value: values[i], ExpiresAt: exp, CreatedAt: time.Now().UnixMilli()}
					if err := s.Put(b.Context(), e); err != nil {
						b.Error(err)
						return
					}
					returned[i] = time.Now()
				}
			})
		}
		wg.Wait()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			mu.Lock()
			n := len(arrived) - (want - total)
			mu.Unlock()
			b.Fatalf("%d of %d entries arrived", n, total)
		}
		mu.Lock()
		msgs += float64(messages - msgs0)
		for i, v := range values {
			delays = append(delays, max(0, arrived[v].Sub(returned[i])))
		}
		mu.Unlock()
		calls += redisCalls(b, admin) - calls0
		cpu += redisCPU(b, admin) - cpu0
		round++
	}
	entries := float64(round * total)
	slices.Sort(delays)
	b.ReportMetric(msgs/entries*1000, "msgs/1k")
	b.ReportMetric(scriptMicros(b, admin), "µs/script")
	b.ReportMetric(calls/entries*1000, "scripts/1k")
	b.ReportMetric(cpu/entries*1e6, "redis-µs/entry")
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
}

// redisCalls is how many scripts the server ran so far.
func redisCalls(b *testing.B, c *goredis.Client) float64 {
	info, err := c.Info(b.Context(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:") {
			calls, _, _ := strings.Cut(strings.TrimPrefix(line[strings.Index(line, ":")+1:], "calls="), ",")
			v, _ := strconv.ParseFloat(calls, 64)
			n += v
		}
	}
	return n
}

// redisCPU is the server's CPU seconds so far, user and system.
func redisCPU(b *testing.B, c *goredis.Client) float64 {
	info, err := c.Info(b.Context(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			sum += f
		}
	}
	return sum
}

// scriptMicros is the server's mean time per script call so far.
func scriptMicros(b *testing.B, c *goredis.Client) float64 {
	info, err := c.Info(b.Context(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_evalsha:") {
			_, rest, _ := strings.Cut(line, "usec_per_call=")
			v, _, _ := strings.Cut(rest, ",")
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
