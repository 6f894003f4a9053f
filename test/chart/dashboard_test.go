package chart

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDashboards checks the Grafana dashboards in docs/dashboards: valid
// JSON, unique panel ids, only SPEC.md metrics, and every query scoped to
// the dashboard's namespace and job variables.
func TestDashboards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "docs", "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no dashboards in docs/dashboards")
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
			if err := json.Unmarshal(readFile(t, filepath.Join("docs", "dashboards", filepath.Base(f))), &d); err != nil {
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
							t.Errorf("%s: %s is not a SPEC.md metric", p.Title, ref)
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
