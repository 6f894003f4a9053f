package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/jwks"
)

// Every fetch result and skip reason of every provider is exported at 0
// from start, so alerts on rate() work before the first event; a provider
// removed by a reload leaves no series behind.
func TestEndToEndProviderSeriesFromStartToRemoval(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	other := newJWKSServer(t, testkit.NewKey(t, "ES256", "o1"))
	otherProvider := fmt.Sprintf(`  - name: other
    issuer: https://other.example.com/
    audiences: [orders-api]
    jwks_uri: %s
`, other.URL)
	in := start(t, corpConfig(js.URL, "")+otherProvider, "")
	eventually(t, "ready", in.grpcServing)

	metrics := func() string {
		_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
		return string(body)
	}
	series := func(provider string) []string {
		var out []string
		for _, r := range []string{"success", "error", "not_modified"} {
			out = append(out, fmt.Sprintf(`jwt_authz_jwks_fetch_total{provider=%q,result=%q} `, provider, r))
		}
		for _, r := range jwks.SkipReasons {
			out = append(out, fmt.Sprintf(`jwt_authz_jwks_keys_skipped_total{provider=%q,reason=%q} 0`, provider, r))
		}
		return append(out,
			fmt.Sprintf(`jwt_authz_jwks_fetch_total{provider=%q,result="error"} 0`, provider),
			fmt.Sprintf(`jwt_authz_jwks_keys{provider=%q} 1`, provider),
			fmt.Sprintf(`jwt_authz_jwks_last_success_timestamp_seconds{provider=%q} `, provider),
			fmt.Sprintf(`jwt_authz_check_requests_total{provider=%q,reason="expired",result="denied"} 0`, provider),
		)
	}
	m := metrics()
	for _, p := range []string{"corp", "other"} {
		for _, s := range series(p) {
			if !strings.Contains(m, s) {
				t.Errorf("at start, no series %s", s)
			}
		}
	}

	writeConfig(t, in, corpConfig(js.URL, ""))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload", func() bool { return !strings.Contains(metrics(), `provider="other"`) })
	m = metrics()
	for _, s := range series("corp") {
		if !strings.Contains(m, s) {
			t.Errorf("after the reload, no series %s", s)
		}
	}
}

// A reload refused after its providers were built (two providers with one
// issuer) stops the sources it started (Stop waits for their fetches, so
// nothing writes a series afterwards) and leaves none of their series.
func TestEndToEndRefusedReloadLeavesNoSeries(t *testing.T) {
	js := newJWKSServer(t, testkit.NewKey(t, "ES256", "k1"))
	dup := newJWKSServer(t, testkit.NewKey(t, "ES256", "d1"))
	in := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "ready", in.grpcServing)
	writeConfig(t, in, corpConfig(js.URL, "")+fmt.Sprintf(`  - name: dup
    issuer: %s
    audiences: [orders-api]
    jwks_uri: %s
`, corpIss, dup.URL))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refusal", func() bool {
		_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
		return strings.Contains(string(body), `jwt_authz_config_reload_total{result="error"} 1`)
	})
	_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
	if strings.Contains(string(body), `provider="dup"`) {
		t.Fatal("series of a provider of a refused reload")
	}
}
