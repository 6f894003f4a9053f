package chart

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// rulesFile is the plain Prometheus rules file for users without
// prometheus-operator, generated from the PrometheusRule template.
const rulesFile = "docs/alerts/prometheus-rules.yaml"

// promtoolVersion is the Prometheus release whose promtool checks the file.
const promtoolVersion = "v0.316.0"

const rulesHeader = `# Prometheus alerting rules of jwt-authz (docs/alerts.md), for a Prometheus
# without prometheus-operator: list this file under rule_files. Generated from
# the chart's PrometheusRule template (charts/jwt-authz/templates/
# prometheusrule.yaml) with prometheusRule.selector: job="jwt-authz"; edit
# the template and run "go test -run TestRulesFile -update" in test/chart.
# Change the selector to match your scrape job's labels.
`

// renderRulesFile renders the PrometheusRule and returns its spec as a rules
// file.
func renderRulesFile(t *testing.T) []byte {
	t.Helper()
	m := parseRendered(t, mustRender(t, valuesYAML(t, `prometheusRule: {enabled: true, selector: 'job="jwt-authz"'}`)))
	spec := dig(m.get(t, "PrometheusRule"), "spec")
	var buf bytes.Buffer
	buf.WriteString(rulesHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(spec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRulesFile checks that the plain rules file is the PrometheusRule's
// rules, byte for byte (go test -update rewrites it), and that promtool
// accepts it.
func TestRulesFile(t *testing.T) {
	want := renderRulesFile(t)
	path := filepath.Join(repoRoot(t), filepath.FromSlash(rulesFile))
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := readFile(t, rulesFile)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the PrometheusRule template (go test -run TestRulesFile -update rewrites it):\n%s", rulesFile, lineDiff(string(want), string(got)))
	}
}

// promtoolBuildTime bounds the first build of promtool (its module graph is
// large); later runs find it in the Go build cache.
const promtoolBuildTime = 3 * time.Minute

// TestRulesFilePromtool runs promtool check rules on the plain rules file.
// promtool is built from the Prometheus release as a Go tool; where it
// cannot be fetched or built in time the test is skipped and says so.
func TestRulesFilePromtool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds promtool; skipped with -short")
	}
	path := filepath.Join(repoRoot(t), filepath.FromSlash(rulesFile))
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), promtoolBuildTime)
	defer cancel()
	install := exec.CommandContext(ctx, "go", "install", "github.com/prometheus/prometheus/cmd/promtool@"+promtoolVersion)
	install.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: promtool %s could not be built within %s (%v); %s was not checked by promtool:\n%.2000s", promtoolVersion, promtoolBuildTime, err, rulesFile, out)
	}
	check := exec.Command(filepath.Join(bin, "promtool"), "check", "rules", path)
	out, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
	t.Logf("promtool check rules: %s", out)
}
