package chart

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDashboards checks the Grafana dashboards in charts/jwt-authz/dashboards
// (the one copy, which the chart ships as a ConfigMap): valid JSON, unique
// panel ids, only documented metrics, and every query scoped to the
// dashboard's namespace and job variables.
func TestDashboards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir(t), "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards in charts/jwt-authz/dashboards")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var d struct {
				UID    string `json:"uid"`
				Title  string `json:"title"`
				Panels []struct {
					ID      int    `json:"id"`
					Type    string `json:"type"`
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal(readFile(t, filepath.Join("charts", "jwt-authz", "dashboards", filepath.Base(f))), &d); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
				t.Fatalf("dashboard needs uid, title and panels")
			}
			ids := map[int]bool{}
			queries := 0
			for _, p := range d.Panels {
				if ids[p.ID] {
					t.Errorf("panel id %d used twice", p.ID)
				}
				ids[p.ID] = true
				for _, tg := range p.Targets {
					queries++
					for _, ref := range metricRef.FindAllString(tg.Expr, -1) {
						if !knownMetric(ref) {
							t.Errorf("%s: %s is not a documented metric", p.Title, ref)
						}
					}
					if !strings.Contains(tg.Expr, `namespace="$namespace",job="$job"`) {
						t.Errorf("%s: query not scoped to $namespace and $job: %s", p.Title, tg.Expr)
					}
				}
			}
			if queries == 0 {
				t.Error("no queries")
			}
		})
	}
}

// TestDashboardsConfigMap checks that dashboards.enabled ships each file of
// charts/jwt-authz/dashboards unchanged, labelled for the Grafana sidecar.
func TestDashboardsConfigMap(t *testing.T) {
	m := parseRendered(t, mustRender(t, valuesYAML(t, "dashboards: {enabled: true}")))
	var cm object
	for _, o := range m.all("ConfigMap") {
		if o.name() == "jwt-authz-dashboards" {
			cm = o
		}
	}
	if cm == nil {
		t.Fatal("no jwt-authz-dashboards ConfigMap")
	}
	if dig(cm, "metadata", "labels", "grafana_dashboard") != "1" {
		t.Errorf("labels = %v, want grafana_dashboard: \"1\"", dig(cm, "metadata", "labels"))
	}
	files, err := filepath.Glob(filepath.Join(chartDir(t), "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := dig(cm, "data").(map[string]any)
	if len(data) != len(files) {
		t.Errorf("ConfigMap holds %d dashboards, the chart %d", len(data), len(files))
	}
	for _, f := range files {
		want := strings.TrimRight(string(readFile(t, filepath.Join("charts", "jwt-authz", "dashboards", filepath.Base(f)))), "\n")
		if got := str(data[filepath.Base(f)]); got != want {
			t.Errorf("%s differs from the file in the ConfigMap", filepath.Base(f))
		}
	}
	if m := parseRendered(t, mustRender(t, nil)); len(m.all("ConfigMap")) != 1 {
		t.Error("the dashboard ConfigMap is rendered by default")
	}
}
