package memory_test

import (
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
	"github.com/jwt-authz/jwt-authz/session/memory"
	"github.com/jwt-authz/jwt-authz/session/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) session.Store { return memory.New() })
}

func TestLen(t *testing.T) {
	s := memory.New()
	now := time.Now()
	if err := s.Create(t.Context(), session.Session{ID: "a", Subject: "u", RefreshJTI: "j", RetainUntil: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d after one Create", s.Len())
	}
	if _, err := s.Sweep(t.Context(), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after sweeping everything", s.Len())
	}
}
