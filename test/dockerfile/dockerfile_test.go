package dockerfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loadStages parses the repository's Dockerfile.
func loadStages(t *testing.T) ([]instruction, []stage) {
	t.Helper()
	ins, err := parse(readRepoFile(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	global, st := stages(ins)
	if len(st) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return global, st
}

var digestPinned = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// buildRun returns the RUN instruction of the builder stage that runs
// `go build`, as a shell command without RUN options.
func buildRun(t *testing.T, st []stage) string {
	t.Helper()
	var found []string
	for _, s := range st[:len(st)-1] {
		for _, r := range s.find("RUN") {
			if strings.Contains(r.args, "go build") {
				found = append(found, stripRunFlags(r.args))
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one RUN with go build before the final stage, got %d", len(found))
	}
	return found[0]
}

// TestStages checks the multi-stage layout and that every base image is
// pinned by digest.
func TestStages(t *testing.T) {
	_, st := loadStages(t)
	if len(st) < 2 {
		t.Fatalf("got %d stages, want a builder and a final stage", len(st))
	}
	for i, s := range st {
		t.Run(s.image, func(t *testing.T) {
			if !digestPinned.MatchString(s.image) {
				t.Errorf("FROM %s (line %d) is not pinned by digest", s.image, s.from.line)
			}
			if i < len(st)-1 && s.alias == "" {
				t.Errorf("builder stage FROM %s has no AS name", s.image)
			}
		})
	}
	if b := st[0].image; !strings.HasPrefix(b, "golang:1.26") {
		t.Errorf("builder = %s, want golang:1.26", b)
	}
	final := st[len(st)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static-debian12:nonroot@") {
		t.Errorf("final image = %s, want gcr.io/distroless/static-debian12:nonroot by digest", final.image)
	}
	// distroless has no shell: a RUN there could not work.
	if runs := final.find("RUN"); len(runs) > 0 {
		t.Errorf("final stage has RUN at line %d; distroless has no shell", runs[0].line)
	}
}

// TestBuildCommand checks the go build line: a static, reproducible build
// that stamps the version and commit.
func TestBuildCommand(t *testing.T) {
	_, st := loadStages(t)
	run := buildRun(t, st)
	for _, want := range []string{
		"CGO_ENABLED=0",
		"go build",
		"-trimpath",
		"-tags grpcnotrace",
		`-ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}"`,
		"./cmd/jwt-authz",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("go build line lacks %s:\n%s", want, run)
		}
	}
	// VERSION and COMMIT must be declared in the stage that builds.
	var args []string
	for _, s := range st[:len(st)-1] {
		for _, a := range s.find("ARG") {
			name, _, _ := strings.Cut(a.args, "=")
			args = append(args, name)
		}
	}
	for _, want := range []string{"VERSION", "COMMIT"} {
		if !slices.Contains(args, want) {
			t.Errorf("builder stage does not declare ARG %s", want)
		}
	}
}

// TestFinalStage checks how the image runs.
func TestFinalStage(t *testing.T) {
	_, st := loadStages(t)
	final := st[len(st)-1]
	last := func(cmd string) string {
		t.Helper()
		all := final.find(cmd)
		if len(all) == 0 {
			t.Fatalf("final stage has no %s", cmd)
		}
		return all[len(all)-1].args
	}
	tests := map[string]struct {
		got  string
		want *regexp.Regexp
	}{
		"USER is numeric and non-root": {last("USER"), regexp.MustCompile(`^65532:65532$`)},
		"VOLUME holds the data dir":    {last("VOLUME"), regexp.MustCompile(`"/var/lib/jwt-authz"`)},
		"ENTRYPOINT":                   {last("ENTRYPOINT"), regexp.MustCompile(`^\["/jwt-authz"\]$`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !tc.want.MatchString(tc.got) {
				t.Errorf("%q does not match %s", tc.got, tc.want)
			}
		})
	}

	var cmd []string
	if err := json.Unmarshal([]byte(last("CMD")), &cmd); err != nil {
		t.Fatalf("CMD is not in exec (JSON) form: %v", err)
	}
	if want := []string{"serve", "--config", "/etc/jwt-authz/config.yaml"}; !slices.Equal(cmd, want) {
		t.Errorf("CMD = %q, want %q", cmd, want)
	}

	checkHealthcheck(t, last("HEALTHCHECK"))

	var ports []string
	for _, e := range final.find("EXPOSE") {
		ports = append(ports, strings.Fields(e.args)...)
	}
	slices.Sort(ports)
	if want := []string{"8080", "9001", "9090"}; !slices.Equal(ports, want) {
		t.Errorf("EXPOSE = %v, want %v", ports, want)
	}

	var binary, dataDir bool
	for _, c := range final.find("COPY") {
		f := strings.Fields(c.args)
		dst := f[len(f)-1]
		if strings.Contains(c.args, "--from=") && dst == "/jwt-authz" {
			binary = true
		}
		if dst == "/var/lib/jwt-authz" && strings.Contains(c.args, "--chown=65532:65532") {
			dataDir = true
		}
	}
	if !binary {
		t.Error("final stage does not copy the binary to /jwt-authz from the builder")
	}
	if !dataDir {
		t.Error("final stage does not create /var/lib/jwt-authz owned by 65532")
	}
}

// imageConfig returns the config file the image ships, from its COPY heredoc.
func imageConfig(t *testing.T) string {
	t.Helper()
	_, st := loadStages(t)
	for _, c := range st[len(st)-1].find("COPY") {
		if strings.HasSuffix(c.args, " /etc/jwt-authz/config.yaml") && len(c.heredocs) == 1 {
			return c.heredocs[0]
		}
	}
	t.Fatal("final stage ships no /etc/jwt-authz/config.yaml heredoc")
	return ""
}

// TestImageConfig checks the shipped config without a YAML library: its
// top-level keys are documented config keys, the data dir is the volume, and the admin
// API stays on the container's loopback.
func TestImageConfig(t *testing.T) {
	cfg := imageConfig(t)
	top := map[string]string{}
	for _, line := range strings.Split(cfg, "\n") {
		if line == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("not a key: %q", line)
		}
		top[k] = strings.TrimSpace(v)
	}
	spec := []string{"grpc_addr", "http_addr", "admin_addr", "admin_token_file", "data_dir", "providers",
		"dry_run", "bypass_cors_preflight", "token_sources", "rules", "token_cache", "revocation", "issuer",
		"log_level", "log_format", "shutdown_delay", "max_token_bytes"}
	for k := range top {
		if !slices.Contains(spec, k) {
			t.Errorf("image config key %s is not a documented config key", k)
		}
	}
	want := map[string]string{
		"grpc_addr":  "0.0.0.0:9001",
		"http_addr":  "0.0.0.0:8080",
		"admin_addr": "127.0.0.1:9090",
		"data_dir":   "/var/lib/jwt-authz",
	}
	for k, v := range want {
		if top[k] != v {
			t.Errorf("%s = %q, want %q", k, top[k], v)
		}
	}
}
