package memory_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
	"github.com/jwt-authz/jwt-authz/revocation/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) revocation.Store {
		s := memory.New(nil)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestNewSaysItIsNotDurable(t *testing.T) {
	var buf bytes.Buffer
	memory.New(slog.New(slog.NewTextHandler(&buf, nil)))
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "lost on restart") {
		t.Fatalf("log at creation = %q, want a warning that revocations are lost on restart", out)
	}
}

func TestClosed(t *testing.T) {
	s := memory.New(nil)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "x", ExpiresAt: time.Now().Add(time.Hour).Unix()}
	tests := map[string]func() error{
		"Put": func() error { return s.Put(t.Context(), e) },
		"Get": func() error { _, _, err := s.Get(t.Context(), e.Kind, "", e.Value); return err },
		"List": func() error {
			return s.List(t.Context(), time.Now(), func(revocation.Entry) error { return nil })
		},
		"DeleteExpired": func() error { _, err := s.DeleteExpired(t.Context(), time.Now()); return err },
	}
	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, memory.ErrClosed) {
				t.Fatalf("%s after Close = %v, want ErrClosed", name, err)
			}
		})
	}
}

func TestPutRejectsInvalid(t *testing.T) {
	s := memory.New(nil)
	err := s.Put(t.Context(), revocation.Entry{Kind: "bogus", Value: "x", ExpiresAt: 1})
	if !errors.Is(err, revocation.ErrInvalidEntry) {
		t.Fatalf("Put(bogus kind) = %v, want ErrInvalidEntry", err)
	}
}

func BenchmarkMemoryPut(b *testing.B) {
	storetest.BenchPut(b, memory.New(nil))
}

func BenchmarkMemoryGet(b *testing.B) {
	storetest.BenchGet(b, memory.New(nil))
}
