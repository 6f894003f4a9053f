package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/storetest"
)

// helperEnv makes the test binary act as a process that records one
// revocation and then waits to be killed (see TestMain).
const helperEnv = "JWT_AUTHZ_BOLT_HELPER_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(putAndWait(path))
	}
	os.Exit(m.Run())
}

// putAndWait records the entry named in the environment, says so on
// stdout, and blocks until the parent kills the process.
func putAndWait(path string) int {
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := New(db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "leaked-before-crash", ExpiresAt: time.Now().Add(time.Hour).Unix(), CreatedAt: 1}
	if err := s.Put(context.Background(), e); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("stored")
	select {}
}

func newStore(t testing.TB) (*Store, *bbolt.DB) {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "jwt-authz.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) revocation.Store {
		s, _ := newStore(t)
		return s
	})
}

func TestContractNoSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T) revocation.Store {
		s, db := newStore(t)
		db.NoSync = true
		return s
	})
}

func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-authz.db")
	want := revocation.Entry{Kind: revocation.KindSub, Value: "alice", Before: 1000, ExpiresAt: time.Now().Add(time.Hour).Unix(), CreatedAt: 5}
	{
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(t.Context(), want); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(t.Context(), want.Kind, "", want.Value)
	if err != nil || !ok || got != want {
		t.Fatalf("after reopen Get = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}

// TestSurvivesKill9 records a revocation in a child process, kills it with
// SIGKILL as soon as Put returned, and finds the entry in the file.
func TestSurvivesKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-authz.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "stored" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v; want \"stored\"", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(t.Context(), revocation.KindJTI, "", "leaked-before-crash"); err != nil || !ok {
		t.Fatalf("after kill -9: found = %v, err = %v; want the entry", ok, err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-authz.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// flock conflicts between two open file descriptions even within one
	// process, so a second open stands in for a second process.
	_, err = open(path, 50*time.Millisecond)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "database is locked by another process") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q should name the path and say the database is locked", err)
	}
}

func TestSharesDatabaseWithOtherBuckets(t *testing.T) {
	s, db := newStore(t)
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("sessions"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), revocation.Entry{Kind: revocation.KindSID, Value: "s", ExpiresAt: time.Now().Add(time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteExpired(t.Context(), time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var buckets []string
	_ = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		})
	})
	for _, b := range buckets {
		if b != "sessions" && !strings.HasPrefix(b, "revocation_") {
			t.Errorf("bucket %q is not prefixed revocation_", b)
		}
	}
	_ = db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket([]byte("sessions")).Get([]byte("k")); string(v) != "v" {
			t.Errorf("another package's bucket was changed: %q", v)
		}
		return nil
	})
}

func TestCorruptRecord(t *testing.T) {
	s, db := newStore(t)
	exp := time.Now().Add(time.Hour).Unix()
	k := entryKey(revocation.KindJTI, "", "bad")
	if err := db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(entriesBucket).Put(k, []byte{9, 9}); err != nil {
			return err
		}
		return tx.Bucket(expiryBucket).Put(expiryKey(exp, k), []byte{})
	}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]func() error{
		"Get": func() error { _, _, err := s.Get(t.Context(), revocation.KindJTI, "", "bad"); return err },
		"List": func() error {
			return s.List(t.Context(), time.Now(), func(revocation.Entry) error { return nil })
		},
		"Put": func() error {
			return s.Put(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "bad", ExpiresAt: exp + 1})
		},
	}
	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, errCorrupt) {
				t.Fatalf("%s on a corrupt record = %v, want a corruption error", name, err)
			}
		})
	}
}

func TestNewNilDB(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func BenchmarkBoltPut(b *testing.B) {
	s, _ := newStore(b)
	storetest.BenchPut(b, s)
}

func BenchmarkBoltGet(b *testing.B) {
	s, db := newStore(b)
	db.NoSync = true // only the setup; Get is what is measured
	storetest.BenchGet(b, s)
}
