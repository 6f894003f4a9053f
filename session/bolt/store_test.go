package bolt_test

import (
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/session"
	"github.com/jwt-authz/jwt-authz/session/bolt"
	"github.com/jwt-authz/jwt-authz/session/storetest"
)

func openDB(t testing.TB) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "jwt-authz.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newStore(t testing.TB) *bolt.Store {
	t.Helper()
	s, err := bolt.New(openDB(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t) })
}

// TestDurable checks that sessions and rotations survive reopening the file.
func TestDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-authz.db")
	open := func() (*bbolt.DB, *bolt.Store) {
		t.Helper()
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := bolt.New(db)
		if err != nil {
			t.Fatal(err)
		}
		return db, s
	}
	db, s := open()
	now := time.Now()
	sess := session.Session{ID: "sid", Subject: "alice", RefreshJTI: "j0", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}
	if err := s.Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	next := session.Rotation{JTI: "j1", RetainUntil: now.Add(2 * time.Hour), GraceUntil: now.Add(time.Minute), Replay: []byte("pair")}
	if out, err := s.Rotate(t.Context(), "sid", "j0", next, now); err != nil || out.Result != session.Rotated {
		t.Fatalf("Rotate: %v %v", out.Result, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, s = open()
	defer db.Close()
	got, err := s.Get(t.Context(), "sid")
	if err != nil || got.RefreshJTI != "j1" || !got.RetainUntil.Equal(next.RetainUntil) {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	out, err := s.Rotate(t.Context(), "sid", "j0", session.Rotation{JTI: "x"}, now.Add(time.Second))
	if err != nil || out.Result != session.Replayed || string(out.Replay) != "pair" {
		t.Fatalf("replay after reopen: %v %q %v", out.Result, out.Replay, err)
	}
}

func TestNewNilDB(t *testing.T) {
	if _, err := bolt.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func TestCorruptRecord(t *testing.T) {
	db := openDB(t)
	s, err := bolt.New(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("session_records")).Put([]byte("bad"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "bad"); err == nil {
		t.Fatal("Get of a corrupt record succeeded")
	}
	if _, err := s.Rotate(t.Context(), "bad", "a", session.Rotation{JTI: "b"}, time.Now()); err == nil {
		t.Fatal("Rotate of a corrupt record succeeded")
	}
}
