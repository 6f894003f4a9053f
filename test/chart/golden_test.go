package chart

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// generatedData matches a data value of the chart's own Secrets, which are
// random on every render.
var generatedData = regexp.MustCompile(`(?m)^(  [-._a-zA-Z0-9]+: )"[A-Za-z0-9+/=]+"$`)

// renderText renders like `helm template`: each template's output under a
// "# Source:" line, in path order, with generated secrets masked.
func renderText(t *testing.T, values map[string]any) string {
	t.Helper()
	out := mustRender(t, values)
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		body := strings.TrimSpace(out[name])
		if body == "" {
			continue
		}
		if strings.HasSuffix(name, "/secret.yaml") {
			body = generatedData.ReplaceAllString(body, `${1}"<generated>"`)
		}
		b.WriteString("---\n# Source: " + name + "\n" + body + "\n")
	}
	return b.String()
}

// TestGolden compares the rendered chart with testdata/*.golden, so every
// change to the output is reviewed as a diff. Run with -update to accept.
func TestGolden(t *testing.T) {
	tests := map[string]string{
		"default.golden": "",
		"redis.golden":   filepath.Join(chartDir(t), "ci", "redis-values.yaml"),
	}
	for golden, valuesPath := range tests {
		t.Run(golden, func(t *testing.T) {
			var values map[string]any
			if valuesPath != "" {
				values = valuesFile(t, valuesPath)
			}
			got := renderText(t, values)
			path := filepath.Join("testdata", golden)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("render differs from %s (go test -update rewrites it):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		if shown++; shown == 10 {
			b.WriteString("...\n")
			break
		}
	}
	return b.String()
}
