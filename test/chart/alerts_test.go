package chart

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// chartAlerts are the alerts of templates/prometheusrule.yaml, each of which
// docs/alerts.md must explain.
var chartAlerts = []string{
	"JwtAuthzDown",
	"JwtAuthzHighDenyRatio",
	"JwtAuthzKeysUnavailable",
	"JwtAuthzStoreUnavailable",
	"JwtAuthzRevocationStoreDown",
	"JwtAuthzJWKSFetchFailing",
	"JwtAuthzJWKSStale",
	"JwtAuthzRefreshReuseDetected",
	"JwtAuthzConfigReloadFailed",
	"JwtAuthzTokenEndpointErrors",
	"JwtAuthzCheckLatencyHigh",
	"JwtAuthzDryRunDenials",
}

// specMetrics are the metric names of docs/metrics.md; histograms also
// expose _bucket, _sum and _count.
var specMetrics = []string{
	"jwt_authz_check_requests_total",
	"jwt_authz_check_duration_seconds",
	"jwt_authz_token_cache_requests_total",
	"jwt_authz_token_cache_entries",
	"jwt_authz_jwks_fetch_total",
	"jwt_authz_jwks_keys",
	"jwt_authz_jwks_last_success_timestamp_seconds",
	"jwt_authz_revocations_total",
	"jwt_authz_revoked_entries",
	"jwt_authz_revocation_store_up",
	"jwt_authz_revocation_fail_closed_total",
	"jwt_authz_revocation_failing_closed",
	"jwt_authz_token_requests_total",
	"jwt_authz_refresh_reuse_detected_total",
	"jwt_authz_config_reload_total",
	"jwt_authz_build_info",
}

// specReasons are the reason names of docs/metrics.md.
var specReasons = []string{
	"ok", "missing", "too_large", "malformed", "unsupported_alg", "unknown_issuer",
	"unknown_kid", "bad_signature", "keys_unavailable", "store_unavailable", "expired",
	"not_yet_valid", "lifetime_exceeded", "bad_audience", "bad_typ", "revoked",
	"insufficient_scope", "claim_mismatch",
}

var (
	metricRef = regexp.MustCompile(`jwt_authz_[a-z_]+`)
	reasonRef = regexp.MustCompile(`reason="([a-z_]+)"`)
)

// knownMetric reports whether name is a documented metric (docs/metrics.md) or a series of one.
func knownMetric(name string) bool {
	for _, m := range specMetrics {
		if name == m || name == m+"_bucket" || name == m+"_sum" || name == m+"_count" {
			return true
		}
	}
	return false
}

// TestPrometheusRule checks every alert: SPEC metric and reason names, a
// severity, a summary, a description and a runbook link into docs/alerts.md.
func TestPrometheusRule(t *testing.T) {
	m := parseRendered(t, mustRender(t, valuesYAML(t, "prometheusRule: {enabled: true}")))
	rules, _ := dig(m.get(t, "PrometheusRule"), "spec", "groups", 0, "rules").([]any)
	var names []string
	for _, r := range rules {
		name := str(dig(r, "alert"))
		names = append(names, name)
		t.Run(name, func(t *testing.T) {
			expr := str(dig(r, "expr"))
			if expr == "" {
				t.Fatal("no expr")
			}
			if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
				t.Errorf("unbalanced expr: %s", expr)
			}
			for _, ref := range metricRef.FindAllString(expr, -1) {
				if !knownMetric(ref) {
					t.Errorf("expr uses %s, which docs/metrics.md does not list", ref)
				}
			}
			for _, ref := range reasonRef.FindAllStringSubmatch(expr, -1) {
				if !slices.Contains(specReasons, ref[1]) {
					t.Errorf("expr uses reason %q, which docs/metrics.md does not list", ref[1])
				}
			}
			if sev := dig(r, "labels", "severity"); sev != "critical" && sev != "warning" && sev != "info" {
				t.Errorf("severity = %v", sev)
			}
			for _, key := range []string{"summary", "description"} {
				if str(dig(r, "annotations", key)) == "" {
					t.Errorf("no %s annotation", key)
				}
			}
			want := "docs/alerts.md#" + strings.ToLower(name)
			if url := str(dig(r, "annotations", "runbook_url")); !strings.HasSuffix(url, want) {
				t.Errorf("runbook_url = %q, want it to end in %s", url, want)
			}
		})
	}
	if !slices.Equal(names, chartAlerts) {
		t.Errorf("alerts = %v, want %v", names, chartAlerts)
	}
}

// TestPrometheusRuleSettings checks the thresholds and the selector values.
func TestPrometheusRuleSettings(t *testing.T) {
	m := parseRendered(t, mustRender(t, valuesYAML(t, `
prometheusRule:
  enabled: true
  selector: 'cluster="eu1",app="authz"'
  denyRatioThreshold: 0.2
  jwksStaleSeconds: 7200
  checkLatencyP99Seconds: 0.1
  extraRules:
    - record: jwt_authz:check_requests:rate5m
      expr: sum(rate(jwt_authz_check_requests_total[5m]))
`)))
	exprs := map[string]string{}
	rules, _ := dig(m.get(t, "PrometheusRule"), "spec", "groups", 0, "rules").([]any)
	for _, r := range rules {
		exprs[str(dig(r, "alert"))+str(dig(r, "record"))] = str(dig(r, "expr"))
	}
	tests := map[string]string{
		"JwtAuthzHighDenyRatio":           ") > 0.2",
		"JwtAuthzJWKSStale":               "> 7200",
		"JwtAuthzCheckLatencyHigh":        "> 0.1",
		"JwtAuthzDown":                    `up{cluster="eu1",app="authz"}`,
		"jwt_authz:check_requests:rate5m": "sum(rate(jwt_authz_check_requests_total[5m]))",
	}
	for alert, want := range tests {
		t.Run(alert, func(t *testing.T) {
			if !strings.Contains(exprs[alert], want) {
				t.Errorf("expr = %q, want it to contain %q", exprs[alert], want)
			}
		})
	}
}

// TestAlertsDoc checks that docs/alerts.md explains every alert, with what
// it means and what to do, and names no alert the chart lacks.
func TestAlertsDoc(t *testing.T) {
	doc := string(readFile(t, "docs/alerts.md"))
	sections := map[string]string{}
	parts := strings.Split(doc, "\n## ")
	for _, part := range parts[1:] {
		title, body, _ := strings.Cut(part, "\n")
		sections[strings.TrimSpace(title)] = body
	}
	for _, name := range chartAlerts {
		t.Run(name, func(t *testing.T) {
			body, ok := sections[name]
			if !ok {
				t.Fatalf("docs/alerts.md has no section %q", name)
			}
			for _, want := range []string{"**Means:**", "**Do:**", "```promql"} {
				if !strings.Contains(body, want) {
					t.Errorf("section lacks %s", want)
				}
			}
			if !strings.Contains(doc, "["+name+"](#"+strings.ToLower(name)+")") {
				t.Errorf("the summary table does not link %s", name)
			}
		})
	}
	for title := range sections {
		if !slices.Contains(chartAlerts, title) {
			t.Errorf("docs/alerts.md explains %q, which the chart does not ship", title)
		}
	}
	for _, ref := range metricRef.FindAllString(doc, -1) {
		if !knownMetric(ref) {
			t.Errorf("docs/alerts.md names %s, which docs/metrics.md does not list", ref)
		}
	}
}
