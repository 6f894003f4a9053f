package examples

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// actionlintVersion is the actionlint release that checks the workflows.
const actionlintVersion = "v1.7.12"

// TestWorkflowsActionlint runs actionlint, built as a Go tool, on every
// workflow; where it cannot be fetched or built the test is skipped and
// says so.
func TestWorkflowsActionlint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), ".github", "workflows", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows under .github/workflows (%v)", err)
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "go", "install", "github.com/rhysd/actionlint/cmd/actionlint@"+actionlintVersion)
	install.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: actionlint %s could not be fetched or built (%v); the workflows were not linted:\n%.2000s", actionlintVersion, err, out)
	}
	lint := exec.Command(filepath.Join(bin, "actionlint"), append([]string{"-no-color"}, files...)...)
	lint.Dir = repoRoot(t)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// TestReleaseWorkflow checks what the release must do: a multi-arch image
// pushed and signed, the chart pushed to an OCI registry and signed.
func TestReleaseWorkflow(t *testing.T) {
	raw := readFile(t, filepath.Join(repoRoot(t), ".github", "workflows", "release.yaml"))
	var wf struct {
		Jobs map[string]struct {
			Permissions map[string]string `json:"permissions"`
			Steps       []struct {
				Uses string            `json:"uses"`
				Run  string            `json:"run"`
				With map[string]any    `json:"with"`
				Env  map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	var platforms, pushed, chartPushed bool
	signs := 0
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
				p, _ := s.With["platforms"].(string)
				platforms = strings.Contains(p, "linux/amd64") && strings.Contains(p, "linux/arm64")
				pushed, _ = s.With["push"].(bool)
			}
			if strings.Contains(s.Run, "helm push") && strings.Contains(string(raw), "oci://") {
				chartPushed = true
			}
			if strings.Contains(s.Run, "cosign sign") {
				signs++
				if job.Permissions["id-token"] != "write" {
					t.Errorf("job %s signs without id-token: write (keyless cosign needs it)", name)
				}
			}
		}
	}
	if !platforms || !pushed {
		t.Error("no build-push-action pushing linux/amd64 and linux/arm64")
	}
	if !chartPushed {
		t.Error("the chart is not pushed to an OCI registry")
	}
	if signs < 2 {
		t.Errorf("%d cosign sign steps, want the image and the chart", signs)
	}
}
