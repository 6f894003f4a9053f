package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckFilesGolden loads every testdata/files-*.yaml, which Validate
// accepts, and compares what CheckFiles finds with the paired .golden file.
// The paths in the fixtures are relative to this directory.
func TestCheckFilesGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "files-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/files-*.yaml fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := LoadEnv(file, nil)
			if err != nil {
				t.Fatalf("fixture does not validate: %v", err)
			}
			err = c.CheckFiles()
			if err == nil {
				t.Fatal("CheckFiles found nothing")
			}
			assertFieldErrors(t, err)
			matchGolden(t, file, err.Error()+"\n")
		})
	}
	// No probe file is left behind.
	if left, _ := filepath.Glob(filepath.Join("testdata", "files", ".jwt-authz-write-check-*")); len(left) > 0 {
		t.Errorf("probe files left: %v", left)
	}
}

func TestCheckFilesUsable(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]*Config{
		"embedded default, data dir to create": {DataDir: filepath.Join(dir, "a", "b")},
		"data dir exists, token file":          {DataDir: dir, AdminTokenFile: token},
		"signing key and bolt file to create": {DataDir: dir, Issuer: Issuer{SigningKeyFile: filepath.Join(dir, "keys", "k.pem")},
			Revocation: Revocation{Store: "bolt", BoltPath: filepath.Join(dir, "db", "x.db")}},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			c.ApplyDefaults()
			if err := c.CheckFiles(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
				t.Fatal("CheckFiles created a directory")
			}
		})
	}
}
