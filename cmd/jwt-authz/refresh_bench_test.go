package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// BenchmarkRefreshHTTP measures refresh-token rotation over loopback HTTP
// through the whole server, with the bolt store and with Redis, side by
// side: each of 8 clients keeps rotating its own session. It reports
// tokens/s and the p99 latency of one refresh.
func BenchmarkRefreshHTTP(b *testing.B) {
	stores := map[string]func(testing.TB) string{
		"bolt": func(testing.TB) string { return "revocation:\n  store: bolt\n" },
		"redis": func(t testing.TB) string {
			return "revocation:\n  store: redis\n  redis_url: redis://" + redisserver.New(t).Addr() + "/0\n"
		},
	}
	for _, name := range []string{"bolt", "redis"} {
		b.Run(name, func(b *testing.B) {
			benchRefresh(b, stores[name](b))
		})
	}
}

func benchRefresh(b *testing.B, storeCfg string) {
	// Every client is 127.0.0.1: the per-client limit would measure
	// itself.
	in := start(b, storeCfg+"token_endpoint_rate_limit:\n  requests_per_second: 0\n", "")
	eventually(b, "ready", in.grpcServing)
	const clients = 8
	chains := make([]string, clients)
	for i := range chains {
		_, chains[i] = in.mint(fmt.Sprint("bench-", i), "read")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + clients - 1) / clients
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, per)
			for range per {
				t0 := time.Now()
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chains[c]}}
				resp, err := client.Post("http://"+in.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
				if err != nil {
					b.Error(err)
					return
				}
				var body struct {
					RefreshToken string `json:"refresh_token"`
				}
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("refresh: %d %v", resp.StatusCode, err)
					return
				}
				chains[c] = body.RefreshToken
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "tokens/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
