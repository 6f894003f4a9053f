package gctune

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // relative to the cgroup root; "proc" is /proc/self/cgroup
		want  uint64
	}{
		{"v2 with its own namespace", map[string]string{"memory.max": "268435456\n", "proc": "0::/\n"}, 268435456},
		{"v2 no limit", map[string]string{"memory.max": "max\n", "proc": "0::/\n"}, 0},
		{"v2 nested cgroup", map[string]string{
			"kubepods/pod1/c1/memory.max": "134217728\n",
			"memory.max":                  "max\n",
			"proc":                        "0::/kubepods/pod1/c1\n",
		}, 134217728},
		{"v2 nested path not mounted", map[string]string{"memory.max": "67108864\n", "proc": "0::/elsewhere\n"}, 67108864},
		{"v1 limit", map[string]string{"memory/memory.limit_in_bytes": "536870912\n", "proc": "4:memory:/docker/abc\n"}, 536870912},
		{"v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"nothing mounted", map[string]string{}, 0},
		{"garbage", map[string]string{"memory.max": "lots\n"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root, proc := filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc-self-cgroup")
			for name, content := range tt.files {
				if name == "proc" {
					writeFile(t, proc, content)
					continue
				}
				writeFile(t, filepath.Join(root, name), content)
			}
			if got := cgroupMemoryLimit(root, proc); got != tt.want {
				t.Errorf("limit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSetMemoryLimitLeavesOperatorsGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	if got := SetMemoryLimit(); got != 0 {
		t.Errorf("SetMemoryLimit = %d with GOMEMLIMIT set, want 0", got)
	}
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("soft limit changed from %d to %d", before, after)
	}
}
