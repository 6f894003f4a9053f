package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRewriteConfig(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		set     map[string]string
		want    map[string]any // top-level keys expected after the rewrite
		keep    []string       // substrings that must survive
		wantErr bool
	}{
		{
			name: "replaces existing keys and keeps the rest",
			src:  "# header comment\ngrpc_addr: 127.0.0.1:9001\nproviders:\n  - name: bench\n    jwks_file: /x/jwks.json\ndata_dir: ./data\n",
			set:  map[string]string{"grpc_addr": "127.0.0.1:1234", "data_dir": "/tmp/d"},
			want: map[string]any{"grpc_addr": "127.0.0.1:1234", "data_dir": "/tmp/d"},
			keep: []string{"# header comment", "jwks_file: /x/jwks.json", "name: bench"},
		},
		{
			name: "adds missing keys",
			src:  "providers: []\n",
			set:  map[string]string{"admin_addr": "127.0.0.1:5555"},
			want: map[string]any{"admin_addr": "127.0.0.1:5555", "providers": []any{}},
		},
		{
			name: "quotes values that YAML would misread",
			src:  "data_dir: x\n",
			set:  map[string]string{"data_dir": "yes"},
			want: map[string]any{"data_dir": "yes"},
		},
		{name: "not a mapping", src: "- a\n- b\n", set: map[string]string{"a": "b"}, wantErr: true},
		{name: "not yaml", src: "a: [\n", set: map[string]string{"a": "b"}, wantErr: true},
		{name: "empty", src: "", set: map[string]string{"a": "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := rewriteConfig([]byte(tt.src), tt.set)
			if (err != nil) != tt.wantErr {
				t.Fatalf("rewriteConfig error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			var got map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("output is not YAML: %v\n%s", err, out)
			}
			for k, v := range tt.want {
				gv, ok := got[k]
				if !ok {
					t.Fatalf("key %s missing from\n%s", k, out)
				}
				if s, isStr := v.(string); isStr && gv != s {
					t.Fatalf("%s = %#v, want %q", k, gv, s)
				}
			}
			for _, k := range tt.keep {
				if !strings.Contains(string(out), k) {
					t.Fatalf("output lost %q:\n%s", k, out)
				}
			}
		})
	}
}

func TestReadServerAddrs(t *testing.T) {
	tests := []struct {
		name      string
		cfg       string
		wantGRPC  string
		wantAdmin string
		wantErr   bool
	}{
		{name: "explicit", cfg: "grpc_addr: 127.0.0.1:1\nadmin_addr: 127.0.0.1:2\n", wantGRPC: "127.0.0.1:1", wantAdmin: "127.0.0.1:2"},
		{name: "spec defaults", cfg: "providers: []\n", wantGRPC: "127.0.0.1:9001", wantAdmin: "127.0.0.1:9090"},
		{name: "non-loopback grpc", cfg: "grpc_addr: 0.0.0.0:9001\n", wantErr: true},
		{name: "non-loopback admin", cfg: "admin_addr: 192.168.1.1:9090\n", wantErr: true},
		{name: "not yaml", cfg: "grpc_addr: [\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			a, err := readServerAddrs(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("readServerAddrs error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && (a.GRPCAddr != tt.wantGRPC || a.AdminAddr != tt.wantAdmin) {
				t.Fatalf("readServerAddrs = %+v, want grpc %s admin %s", a, tt.wantGRPC, tt.wantAdmin)
			}
		})
	}
}

// TestFreeLoopbackAddrsDistinct: the addresses of one server never share
// a port (a server would refuse such a config).
func TestFreeLoopbackAddrsDistinct(t *testing.T) {
	for range 50 {
		addrs, err := freeLoopbackAddrs(3)
		if err != nil {
			t.Fatal(err)
		}
		if addrs[0] == addrs[1] || addrs[1] == addrs[2] || addrs[0] == addrs[2] {
			t.Fatalf("addresses repeat: %v", addrs)
		}
	}
}
