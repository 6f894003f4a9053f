package bolt

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// mappedRSS returns how many bytes of the file at path are resident in
// this process's mappings of it, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	inFile := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			inFile = len(fields) >= 6 && fields[5] == path
			continue
		}
		if inFile && len(fields) == 3 && fields[0] == "Rss:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

func fill(t *testing.T, s *Store, n int) {
	t.Helper()
	exp := time.Now().Add(time.Hour).Unix()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		entries, expiry := tx.Bucket(entriesBucket), tx.Bucket(expiryBucket)
		for i := range n {
			e := revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("%08x-4b1d-4c3a-9f2e-%012x", i*2654435761, i), ExpiresAt: exp, CreatedAt: 1}
			k := entryKey(e.Kind, "", e.Value)
			if err := entries.Put(k, encodeRecord(e)); err != nil {
				return err
			}
			if err := expiry.Put(expiryKey(e.ExpiresAt, k), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReleaseMapped: after a full read, the file's pages are resident in
// this process; ReleaseMapped drops them, and every entry reads back and
// new ones are written as before.
func TestReleaseMapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ReleaseMapped works on Linux only")
	}
	s, db := newStore(t)
	const n = 8000
	fill(t, s, n)
	list := func() int {
		got := 0
		if err := s.List(t.Context(), time.Now(), func(revocation.Entry) error { got++; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := list(); got != n {
		t.Fatalf("listed %d entries, want %d", got, n)
	}
	before := mappedRSS(t, db.Path())
	if before < 512<<10 {
		t.Fatalf("%d bytes of the file resident after reading all of it; the test measures nothing", before)
	}
	if err := ReleaseMapped(db); err != nil {
		t.Fatal(err)
	}
	after := mappedRSS(t, db.Path())
	if after > before/10 {
		t.Fatalf("resident after release %d bytes, before %d", after, before)
	}
	if got := list(); got != n {
		t.Fatalf("listed %d entries after release, want %d", got, n)
	}
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "after-release", ExpiresAt: time.Now().Add(time.Hour).Unix(), CreatedAt: 1}
	if err := s.Put(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok || got != e {
		t.Fatalf("Get after release = %+v, %v, %v", got, ok, err)
	}
}

// TestReleaseMappedEvery releases at once, then again only after a write.
func TestReleaseMappedEvery(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ReleaseMapped works on Linux only")
	}
	s, db := newStore(t)
	const n = 8000
	fill(t, s, n)
	_ = s.List(t.Context(), time.Now(), func(revocation.Entry) error { return nil })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ReleaseMappedEvery(ctx, db, 10*time.Millisecond, func(err error) { t.Errorf("release: %v", err) })
	}()
	defer func() { cancel(); <-done }()
	waitResident := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for mappedRSS(t, db.Path()) > 256<<10 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d bytes still resident", what, mappedRSS(t, db.Path()))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitResident("at start")
	// Rewriting every entry reads the whole tree through the map again.
	fill(t, s, n)
	waitResident("after a write")
}
