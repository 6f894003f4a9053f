package revocation_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/revocation"
)

func TestMetricNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	revocation.NewMetrics(reg)
	// Names of docs/metrics.md (the first three) and the sync metrics; series
	// with fixed label sets exist from the start, so dashboards show zero
	// rather than no data.
	tests := map[string]int{
		"jwt_authz_revocations_total":                      5, // kind
		"jwt_authz_revoked_entries":                        5, // kind
		"jwt_authz_revoked_set_sessions":                   1,
		"jwt_authz_revocation_store_up":                    1,
		"jwt_authz_revocation_sync_lag_seconds":            1,
		"jwt_authz_revocation_syncs_total":                 6, // mode x result
		"jwt_authz_revocation_restored_entries_total":      1,
		"jwt_authz_revocation_last_sync_timestamp_seconds": 1,
		"jwt_authz_revocation_fail_closed_total":           1,
		"jwt_authz_revocation_failing_closed":              1,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := testutil.GatherAndCount(reg, name)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("%s has %d series, want %d", name, got, want)
			}
		})
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %+v", err, problems)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	svc, err := revocation.NewService(newFlakyStore(), revocation.Options{Metrics: nil})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "j", ExpiresAt: 1 << 40}); err != nil {
		t.Fatal(err)
	}
}
