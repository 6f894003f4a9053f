package issuer

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}
	// Every label combination exists from the start, at zero.
	if n := testutil.CollectAndCount(reg, "jwt_authz_token_requests_total"); n != 16 {
		t.Fatalf("%d token request series, want 16", n)
	}
	want := `
# HELP jwt_authz_refresh_reuse_detected_total Refresh tokens presented again after rotation; each revoked its session.
# TYPE jwt_authz_refresh_reuse_detected_total counter
jwt_authz_refresh_reuse_detected_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jwt_authz_refresh_reuse_detected_total"); err != nil {
		t.Fatal(err)
	}
}
