package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestMatchingDocShowsExamples keeps the proxy snippets printed in
// docs/request-matching.md identical to the files under examples/, which
// the nginx test runs.
func TestRequestMatchingDocShowsExamples(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "request-matching.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"examples/nginx/jwt-authz.conf",
		"examples/nginx/nginx.conf",
		"examples/traefik/dynamic.yml",
		"examples/caddy/Caddyfile",
	} {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "\n"+string(b)+"```\n") {
			t.Errorf("docs/request-matching.md does not show %s verbatim in a code block", f)
		}
	}
}
