package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestMain lets testscript run this test binary as the jwt-authz command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"jwt-authz": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// readmeBlock is one shell block of README.md: its script, and the output
// its "# " comment lines promise.
type readmeBlock struct {
	line   int
	script []string
	want   []string // each a line of output; "…" stands for any text
}

// readmeShellBlocks returns the ```sh blocks of the file. A comment line
// that directly follows a command (or its continuation, or another such
// comment) is expected output; one after a blank line is prose.
func readmeShellBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks  []readmeBlock
		cur     *readmeBlock
		afterOK bool // the previous line was a command or an output line
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && (line == "```sh" || line == "```bash" || line == "```shell"):
			cur, afterOK = &readmeBlock{line: n}, false
		case cur == nil:
		case line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case strings.HasPrefix(line, "# ") && afterOK:
			cur.want = append(cur.want, strings.TrimPrefix(line, "# "))
		default:
			cur.script = append(cur.script, line)
			trimmed := strings.TrimSpace(line)
			afterOK = trimmed != "" && !strings.HasPrefix(trimmed, "#")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// startEmbedded starts the server on the embedded default, as "make run"
// does, but on port 0 and with a data dir of the test's.
func startEmbedded(t *testing.T) (grpcAddr, httpAddr, adminAddr string) {
	t.Helper()
	env := map[string]string{
		config.EnvVar("grpc_addr"):  "127.0.0.1:0",
		config.EnvVar("http_addr"):  "127.0.0.1:0",
		config.EnvVar("admin_addr"): "127.0.0.1:0",
		config.EnvVar("data_dir"):   t.TempDir(),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := loadConfig("", lookup)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	bound := make(chan [3]string, 1)
	go func() { done <- serve(ctx, cfg, "", lookup, logs.JSONLogger(slog.LevelInfo), bound) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-bound:
		grpcAddr, httpAddr, adminAddr = a[0], a[1], a[2]
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, logs)
	}
	eventually(t, "ready", func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return grpcAddr, httpAddr, adminAddr
}

// TestREADME runs every shell block of README.md against a started server
// and checks the output its comments promise. The binary is this test's
// jwt-authz (./jwt-authz in the README). "make run" is the server the test
// started; "make test" is checked with make -n, since it runs this test.
func TestREADME(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s (.ci/run installs it): %v", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeShellBlocks(t, filepath.Join(root, "README.md"))
	if len(blocks) < 3 {
		t.Fatalf("README.md has %d shell blocks", len(blocks))
	}
	grpcAddr, httpAddr, adminAddr := startEmbedded(t)
	addrs := strings.NewReplacer("127.0.0.1:9001", grpcAddr, "127.0.0.1:8080", httpAddr, "127.0.0.1:9090", adminAddr)

	dir := t.TempDir()
	for i, b := range blocks {
		var script strings.Builder
		for _, line := range b.script {
			command, _, _ := strings.Cut(line, " #")
			switch strings.TrimSpace(command) {
			case "make run":
				line = ": the test runs the server"
			case "make test":
				line = "make -s -n -C " + root + " test >/dev/null"
			}
			line = strings.ReplaceAll(line, "./jwt-authz", "jwt-authz")
			script.WriteString(addrs.Replace(line) + "\n")
		}
		var ts strings.Builder
		fmt.Fprintf(&ts, "# README.md line %d\nexec bash -euo pipefail block.sh\n", b.line)
		for _, want := range b.want {
			parts := strings.Split(want, "…")
			for j := range parts {
				parts[j] = regexp.QuoteMeta(parts[j])
			}
			re := strings.Join(parts, ".*")
			fmt.Fprintf(&ts, "stdout '%s'\n", strings.ReplaceAll(re, "'", "''"))
		}
		fmt.Fprintf(&ts, "-- block.sh --\n%s", script.String())
		name := fmt.Sprintf("block-%d-line-%d.txtar", i+1, b.line)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(ts.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			env.Setenv(config.EnvVar("grpc_addr"), grpcAddr)
			env.Setenv(config.EnvVar("admin_addr"), adminAddr)
			return nil
		},
	})
}
