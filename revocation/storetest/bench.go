package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// BenchPut measures Put of new jti entries into s, one distinct value per
// iteration. Each backend's BenchmarkXPut calls it with a fresh store.
func BenchPut(b *testing.B, s revocation.Store) {
	exp := time.Now().Add(time.Hour).Unix()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Put(b.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprint("jti-", i), ExpiresAt: exp}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchGet stores 1024 jti entries in s, then measures Get of them in
// turn (every lookup finds its entry). Each backend's BenchmarkXGet calls
// it with a fresh store.
func BenchGet(b *testing.B, s revocation.Store) {
	exp := time.Now().Add(time.Hour).Unix()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("jti-", i)
		if err := s.Put(b.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: keys[i], ExpiresAt: exp}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok, err := s.Get(b.Context(), revocation.KindJTI, "", keys[i&1023]); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i++
	}
}
