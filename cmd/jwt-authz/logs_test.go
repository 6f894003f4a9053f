package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedisClientMessagesThrottled(t *testing.T) {
	var buf bytes.Buffer
	l := newRedisLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	for range 100 {
		l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %s", 5, "connection refused")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for 100 dial failures in a row:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "failed to dial after 5 attempts") || !strings.Contains(buf.String(), "backend=redis") {
		t.Fatalf("line: %s", buf.String())
	}
}

func TestServeUnusableDataDirNamedOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := run([]string{"serve", "--data-dir", filepath.Join(file, "data"),
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, &strings.Builder{}, &stderr)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), file); n != 1 {
		t.Fatalf("the path appears %d times:\n%s", n, stderr.String())
	}
}
