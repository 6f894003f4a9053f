package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	const exposition = `# HELP jwt_authz_token_cache_entries Verified tokens in the cache.
# TYPE jwt_authz_token_cache_entries gauge
jwt_authz_token_cache_entries 100000
# TYPE jwt_authz_revoked_entries gauge
jwt_authz_revoked_entries{kind="jti"} 999990
jwt_authz_revoked_entries{kind="sid"} 7
jwt_authz_revoked_entries{kind="sub"} 3
jwt_authz_revoked_entries_total 5
go_memstats_heap_inuse_bytes 1.2345e+07
weird{label="has } brace"} 4 1700000000000
`
	tests := []struct {
		name    string
		names   []string
		want    map[string]float64
		wantErr bool
	}{
		{name: "plain gauge", names: []string{"jwt_authz_token_cache_entries"}, want: map[string]float64{"jwt_authz_token_cache_entries": 100000}},
		{name: "labelled series are summed, prefixes are not matched", names: []string{"jwt_authz_revoked_entries"}, want: map[string]float64{"jwt_authz_revoked_entries": 1000000}},
		{name: "exponent", names: []string{"go_memstats_heap_inuse_bytes"}, want: map[string]float64{"go_memstats_heap_inuse_bytes": 12345000}},
		{name: "brace in a label value and a timestamp", names: []string{"weird"}, want: map[string]float64{"weird": 4}},
		{name: "absent", names: []string{"nope"}, want: map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMetrics(strings.NewReader(exposition), tt.names...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMetrics error = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseMetrics = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	if _, err := parseMetrics(strings.NewReader("x not-a-number\n"), "x"); err == nil {
		t.Fatal("a bad value parsed")
	}
}

func TestScrapeMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("jwt_authz_token_cache_entries 42\n"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	got, err := scrapeMetrics(t.Context(), addr, "s3cret", "jwt_authz_token_cache_entries")
	if err != nil || got["jwt_authz_token_cache_entries"] != 42 {
		t.Fatalf("scrapeMetrics = %v, %v; want 42", got, err)
	}
	if _, err := scrapeMetrics(t.Context(), addr, "wrong", "x"); err == nil {
		t.Fatal("a 401 was not reported")
	}
	if _, err := scrapeMetrics(t.Context(), "10.0.0.1:9090", "", "x"); err == nil {
		t.Fatal("a non-loopback admin address was scraped")
	}
}
