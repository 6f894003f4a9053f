package revocation_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue returns the value of one series gathered from reg: the
// series of family name whose label values, in label-name order, are
// labels (none or "" for an unlabelled metric). For a histogram it returns
// the sample count.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsMatch(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%q", name, labels)
	return 0
}

func labelsMatch(got []*dto.LabelPair, want []string) bool {
	if len(want) == 1 && want[0] == "" {
		want = nil
	}
	if len(want) > len(got) {
		return false
	}
	for i, v := range want {
		if got[i].GetValue() != v {
			return false
		}
	}
	return true
}
