package jwks

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if again := NewMetrics(reg); again.fetches != m.fetches {
		t.Fatal("a second NewMetrics on one registry did not reuse the collectors")
	}

	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b")))
	srv.setETag(`"1"`)
	clock := testkit.NewClock(clockStart)
	src, err := New(Options{Provider: "corp", JWKSURI: srv.URL, Metrics: m, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)

	ctx := t.Context()
	if err := src.Refresh(ctx); err != nil { // success
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := src.Refresh(ctx); err != nil { // not modified
		t.Fatal(err)
	}
	srv.setETag("")
	srv.fail(http.StatusInternalServerError)
	clock.Advance(time.Minute)
	_ = src.Refresh(ctx) // error

	want := `
# HELP jwt_authz_jwks_fetch_total JWKS fetches by provider and result (success, error, not_modified).
# TYPE jwt_authz_jwks_fetch_total counter
jwt_authz_jwks_fetch_total{provider="corp",result="error"} 1
jwt_authz_jwks_fetch_total{provider="corp",result="not_modified"} 1
jwt_authz_jwks_fetch_total{provider="corp",result="success"} 1
# HELP jwt_authz_jwks_keys Usable verification keys in the provider's current JWKS.
# TYPE jwt_authz_jwks_keys gauge
jwt_authz_jwks_keys{provider="corp"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jwt_authz_jwks_fetch_total", "jwt_authz_jwks_keys"); err != nil {
		t.Fatal(err)
	}
	// The 304 a minute after the first load is the last success.
	wantTS := float64(clock.Now().Add(-time.Minute).Unix())
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("corp")); got != wantTS {
		t.Fatalf("last success = %v, want %v", got, wantTS)
	}

	m.Forget("corp")
	if n := testutil.CollectAndCount(m.fetches) + testutil.CollectAndCount(m.keys) + testutil.CollectAndCount(m.lastSuccess); n != 0 {
		t.Fatalf("%d series left after Forget", n)
	}
}

func TestMetricsWithoutRegistry(t *testing.T) {
	m := NewMetrics(nil)
	m.observe("p", resultSuccess)
	if got := testutil.ToFloat64(m.fetches.WithLabelValues("p", resultSuccess)); got != 1 {
		t.Fatalf("count = %v", got)
	}
}
