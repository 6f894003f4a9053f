package bolt_test

import (
	"path/filepath"
	"testing"

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
