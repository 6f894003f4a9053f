package dockerfile

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// cmdExists reports whether ./cmd/jwt-authz has Go sources to build.
func cmdExists(t *testing.T) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "cmd", "jwt-authz", "*.go"))
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return true
		}
	}
	return false
}

// TestBuildRuns runs the Dockerfile's own go build line in the repository,
// as the builder stage would, and checks the binary it makes: static,
// stripped, stamped with the version and commit, and accepting the config
// file the image ships.
func TestBuildRuns(t *testing.T) {
	if !cmdExists(t) {
		t.Skip("./cmd/jwt-authz has no Go sources yet")
	}
	if testing.Short() {
		t.Skip("builds the whole binary; skipped with -short")
	}
	_, st := loadStages(t)
	run := buildRun(t, st)
	out := filepath.Join(t.TempDir(), "jwt-authz")
	if !strings.Contains(run, "-o /out/jwt-authz ") {
		t.Fatalf("go build line does not write -o /out/jwt-authz:\n%s", run)
	}
	run = strings.Replace(run, "-o /out/jwt-authz ", "-o "+out+" ", 1)

	const version, commit = "v0.0.0-dockerfile-test", "0123456789abcdef"
	cmd := exec.CommandContext(t.Context(), "sh", "-ec", run)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(),
		"VERSION="+version,
		"COMMIT="+commit,
		"TARGETOS="+runtime.GOOS,
		"TARGETARCH="+runtime.GOARCH,
		"GOTOOLCHAIN=local",
	)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s\n%v\n%s", run, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("open binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter: it is not static (CGO_ENABLED=0)")
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: -ldflags -s did not apply")
	}

	// grpcnotrace must have applied: without it grpc links
	// golang.org/x/net/trace and, through it, text/template, which keeps
	// every exported method in the binary.
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatalf("read build info: %v", err)
	}
	tags := ""
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			tags = s.Value
		}
	}
	if !strings.Contains(","+tags+",", ",grpcnotrace,") {
		t.Errorf("binary built with -tags %q, want grpcnotrace", tags)
	}
	if img, err := os.ReadFile(out); err != nil {
		t.Fatal(err)
	} else {
		if bytes.Contains(img, []byte("golang.org/x/net/trace.")) {
			t.Error("binary links golang.org/x/net/trace: grpcnotrace did not apply")
		}
		// A template executed anywhere (cobra's SetUsageTemplate,
		// SetHelpTemplate, SetVersionTemplate included) keeps every
		// exported method of every linked type: a third of the binary and
		// 2.5 MiB of idle RSS. The function names stay in a stripped binary.
		if bytes.Contains(img, []byte("text/template.(*state).evalField")) {
			t.Error("binary executes a text/template, which keeps every exported method linked")
		}
		// One call of a Validate() error method through an interface keeps
		// the generated Validate methods of every Envoy API type linked:
		// 1.2 MB of the binary, 1 MiB of idle RSS.
		if bytes.Contains(img, []byte("envoy/service/auth/v3.(*CheckRequest).Validate")) {
			t.Error("binary keeps the Envoy types' Validate methods: something calls Validate() error through an interface")
		}
	}

	b, err := exec.CommandContext(t.Context(), out, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("jwt-authz version: %v\n%s", err, b)
	}
	for _, want := range []string{version, commit} {
		if !strings.Contains(string(b), want) {
			t.Errorf("jwt-authz version = %q, want it to contain %s (-X main.version / main.commit)", b, want)
		}
	}

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(imageConfig(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.CommandContext(t.Context(), out, "config", "validate", "--config-only", "--config", cfg).CombinedOutput(); err != nil {
		t.Errorf("jwt-authz config validate on the image's config: %v\n%s", err, b)
	}

	// The HEALTHCHECK's command exists in the binary and reads the image's
	// config: with no server running it answers 1 (not healthy), not 2 (a
	// wrong command line).
	hc := exec.CommandContext(t.Context(), out, "healthcheck", "--config", cfg, "--timeout", "2s")
	b, err = hc.CombinedOutput()
	if code := hc.ProcessState.ExitCode(); code != 1 {
		t.Errorf("jwt-authz healthcheck with no server: exit %d (%v), want 1\n%s", code, err, b)
	}
}

// TestBuildFlagsMatchMakefile: the image's binary is built as `make build`
// builds it (the figures of BENCHMARKS.md are measured on the latter):
// the same environment and flags, apart from the platform and the output.
func TestBuildFlagsMatchMakefile(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make")
	}
	const version, commit = "v0.0.0-flags", "0123456789abcdef"
	out, err := exec.CommandContext(t.Context(), mk, "-n", "--no-print-directory", "-C", repoRoot(t),
		"build", "GO=go", "VERSION="+version, "COMMIT="+commit).Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	var makeLine string
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "go build") {
			makeLine = strings.TrimSpace(line)
		}
	}
	if makeLine == "" {
		t.Fatalf("make -n build runs no go build:\n%s", out)
	}
	_, st := loadStages(t)
	dockerArgs := goBuildArgs(t, buildRun(t, st), "VERSION="+version, "COMMIT="+commit, "TARGETOS=linux", "TARGETARCH=amd64")
	makeArgs := goBuildArgs(t, makeLine)
	if !slices.Equal(dockerArgs, makeArgs) {
		t.Errorf("Dockerfile builds with\n  %q\nmake build with\n  %q", dockerArgs, makeArgs)
	}
}

// goBuildArgs runs a shell command line with go replaced by a function
// that prints CGO_ENABLED and its arguments, one a line, leaving out -o
// and its value.
func goBuildArgs(t *testing.T, line string, env ...string) []string {
	t.Helper()
	const fake = `go() { printf 'CGO_ENABLED=%s\n' "$CGO_ENABLED"; while [ $# -gt 0 ]; do if [ "$1" = -o ]; then shift; else printf '%s\n' "$1"; fi; shift; done; }; `
	cmd := exec.CommandContext(t.Context(), "sh", "-ec", fake+line)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
