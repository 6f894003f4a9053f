package dockerfile

import (
	"regexp"
	"strings"
	"testing"
)

// ignoreRule is one .dockerignore line compiled to a regular expression.
type ignoreRule struct {
	re      *regexp.Regexp
	exclude bool // false for a "!" exception
}

// compileIgnore compiles .dockerignore patterns the way Docker reads them:
// paths are relative to the context root, "**" spans directories, "*" and
// "?" stay within one, and a pattern that matches a directory matches
// everything under it. The last matching line wins.
func compileIgnore(t *testing.T, src string) []ignoreRule {
	t.Helper()
	var rules []ignoreRule
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{exclude: true}
		if strings.HasPrefix(line, "!") {
			r.exclude = false
			line = line[1:]
		}
		line = strings.Trim(line, "/")
		var b strings.Builder
		b.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				b.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				b.WriteString(".*")
				i++
			case c == '*':
				b.WriteString("[^/]*")
			case c == '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		b.WriteString("(/.*)?$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			t.Fatalf(".dockerignore %q: %v", line, err)
		}
		r.re = re
		rules = append(rules, r)
	}
	return rules
}

func ignored(rules []ignoreRule, path string) bool {
	out := false
	for _, r := range rules {
		if r.re.MatchString(path) {
			out = r.exclude
		}
	}
	return out
}

// TestDockerignore checks that the build context has what go build needs
// and none of the repository's tests, docs, charts, keys or local state.
func TestDockerignore(t *testing.T) {
	rules := compileIgnore(t, readRepoFile(t, ".dockerignore"))
	tests := map[string]bool{ // path -> want ignored
		"go.mod":                         false,
		"go.sum":                         false,
		"cmd/jwt-authz/main.go":          false,
		"config/load.go":                 false,
		"revocation/bolt/store.go":       false,
		"Dockerfile":                     false,
		".git/HEAD":                      true,
		"charts/jwt-authz/values.yaml":   true,
		"manifests/deployment.yaml":      true,
		"docs/alerts.md":                 true,
		"README.md":                      true,
		"test/chart/go.mod":              true,
		"jwks/cache_test.go":             true,
		"config/testdata/invalid-x.yaml": true,
		"data/signing-key.pem":           true,
		"data/jwt-authz.db":              true,
		"keys/issuer.pem":                true,
		"jwt-authz":                      true,
	}
	for path, want := range tests {
		t.Run(path, func(t *testing.T) {
			if got := ignored(rules, path); got != want {
				t.Errorf("ignored = %v, want %v", got, want)
			}
		})
	}
}

// TestIgnoreMatcher checks the matcher against Docker's documented cases.
func TestIgnoreMatcher(t *testing.T) {
	tests := []struct {
		patterns, path string
		want           bool
	}{
		{"*.md", "README.md", true},
		{"*.md", "docs/x.md", false},
		{"**/*.md", "docs/x.md", true},
		{"**/*.md", "README.md", true},
		{"docs/", "docs/a/b.png", true},
		{"temp?", "temp1", true},
		{"temp?", "temp12", false},
		{"*.md\n!README.md", "README.md", false},
		{"*\n!go.mod", "go.mod", false},
		{"*\n!go.mod", "go.sum", true},
		{"/jwt-authz", "jwt-authz", true},
		{"/jwt-authz", "cmd/jwt-authz", false},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.patterns, "\n", ",")+" "+tc.path, func(t *testing.T) {
			if got := ignored(compileIgnore(t, tc.patterns), tc.path); got != tc.want {
				t.Errorf("ignored = %v, want %v", got, tc.want)
			}
		})
	}
}
