package redis

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/storetest"
)

// uniqueOptions isolates one test's keys and channel on a shared server.
func uniqueOptions(t testing.TB) Options {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return Options{
		KeyPrefix: DefaultKeyPrefix + "test-" + id + ":",
		Channel:   DefaultChannel + ":test-" + id,
	}
}

func newClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newStore(t testing.TB, addr string, opts Options) *Store {
	t.Helper()
	s, err := New(newClient(t, addr), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	addr := redisserver.Shared(t)
	storetest.Run(t, func(t *testing.T) revocation.Store {
		return newStore(t, addr, uniqueOptions(t))
	})
}

func TestSharedContract(t *testing.T) {
	addr := redisserver.Shared(t)
	storetest.RunShared(t, func(t *testing.T) revocation.Shared {
		return newStore(t, addr, uniqueOptions(t))
	})
}

func TestKeysCarryTTLAndPrefix(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	exp := time.Now().Add(time.Hour).Unix()
	if err := s.Put(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "ttl", ExpiresAt: exp, CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, addr)
	key := opts.KeyPrefix + "e:jti:ttl"
	at, err := c.ExpireTime(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if at != time.Duration(exp)*time.Second {
		t.Fatalf("EXPIRETIME %s = %v, want the entry's expiry %d", key, at, exp)
	}
	keys, err := c.Keys(t.Context(), opts.KeyPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys under the prefix")
	}
}

func TestDefaultsUseSpecNames(t *testing.T) {
	s, err := New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != "jwt-authz:revocation:" || s.channel != "jwt-authz:revocations" {
		t.Fatalf("defaults = %q, %q", s.prefix, s.channel)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func TestCodec(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    revocation.Entry
		wantErr bool
	}{
		"jti":               {payload: "100:0:5:jti:abc", want: revocation.Entry{Kind: revocation.KindJTI, Value: "abc", ExpiresAt: 100, CreatedAt: 5}},
		"value with colons": {payload: "100:0:5:sid:a:b:c", want: revocation.Entry{Kind: revocation.KindSID, Value: "a:b:c", ExpiresAt: 100, CreatedAt: 5}},
		"sub with cut-off":  {payload: "100:42:5:sub:u", want: revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 42, ExpiresAt: 100, CreatedAt: 5}},
		"scoped sid":        {payload: "100:0:5:sid@idp-a:a:b", want: revocation.Entry{Kind: revocation.KindSID, Provider: "idp-a", Value: "a:b", ExpiresAt: 100, CreatedAt: 5}},
		"scoped sub":        {payload: "100:42:5:sub@self:u@x", want: revocation.Entry{Kind: revocation.KindSub, Provider: "self", Value: "u@x", Before: 42, ExpiresAt: 100, CreatedAt: 5}},
		"provider":          {payload: "100:42:5:provider:idp-a", want: revocation.Entry{Kind: revocation.KindProvider, Value: "idp-a", Before: 42, ExpiresAt: 100, CreatedAt: 5}},
		"empty provider":    {payload: "100:0:5:sid@:a", wantErr: true},
		"bad provider":      {payload: "100:0:5:sid@Idp A:a", wantErr: true},
		"unknown kind":      {payload: "100:0:5:xyz:abc", wantErr: true},
		"missing value":     {payload: "100:0:5:jti:", wantErr: true},
		"too few parts":     {payload: "100:0:jti", wantErr: true},
		"not a number":      {payload: "1e9:0:5:jti:a", wantErr: true},
		"negative":          {payload: "-1:0:5:jti:a", wantErr: true},
		"overflow":          {payload: "99999999999999999999:0:5:jti:a", wantErr: true},
		"empty":             {payload: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := decodeMessage(tc.payload)
			if (err != nil) != tc.wantErr {
				t.Fatalf("decodeMessage(%q) error = %v, want error %v", tc.payload, err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Fatalf("decodeMessage(%q) = %+v, want %+v", tc.payload, got, tc.want)
			}
			if !tc.wantErr {
				if back := encodeValue(got) + ":" + member(got.Kind, got.Provider, got.Value); back != tc.payload {
					t.Fatalf("re-encoded %q, want %q", back, tc.payload)
				}
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{"100:0:5:jti:abc", "1:2:3:sub:x:y", "", ":::", "1:1:1:sid:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		e, err := decodeMessage(payload)
		if err != nil {
			return
		}
		if !e.Kind.Valid() || e.Value == "" || e.ExpiresAt < 0 || e.Before < 0 || e.CreatedAt < 0 {
			t.Fatalf("decodeMessage(%q) accepted %+v", payload, e)
		}
	})
}

func BenchmarkRedisPut(b *testing.B) {
	storetest.BenchPut(b, newStore(b, redisserver.Shared(b), uniqueOptions(b)))
}

func BenchmarkRedisGet(b *testing.B) {
	storetest.BenchGet(b, newStore(b, redisserver.Shared(b), uniqueOptions(b)))
}

// previousSplitMember is how the version before provider-scoped entries
// split a member, kept to check that it skips what it cannot enforce.
func previousSplitMember(m string) (revocation.Kind, string, bool) {
	kind, value, ok := strings.Cut(m, ":")
	k := revocation.Kind(kind)
	if !ok || !(k == revocation.KindJTI || k == revocation.KindSID || k == revocation.KindSub) || value == "" {
		return "", "", false
	}
	return k, value, true
}

// TestMembersForPreviousVersion checks the rolling-upgrade contract: an
// unscoped entry's member is what the previous version reads, and it
// rejects (skips as malformed) a scoped or provider member rather than
// reading it as an unscoped entry.
func TestMembersForPreviousVersion(t *testing.T) {
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindJTI, Value: "a:b"},
		{Kind: revocation.KindSID, Value: "s@x"},
		{Kind: revocation.KindSub, Value: "u"},
	} {
		k, v, ok := previousSplitMember(member(e.Kind, e.Provider, e.Value))
		if !ok || k != e.Kind || v != e.Value {
			t.Errorf("previous version reads %q as %s %q (ok %v), want %s %q", member(e.Kind, e.Provider, e.Value), k, v, ok, e.Kind, e.Value)
		}
	}
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindSID, Provider: "idp-a", Value: "s1"},
		{Kind: revocation.KindSub, Provider: "self", Value: "u:1"},
		{Kind: revocation.KindProvider, Value: "idp-a"},
	} {
		if k, v, ok := previousSplitMember(member(e.Kind, e.Provider, e.Value)); ok {
			t.Errorf("previous version reads %q as %s %q, want it skipped", member(e.Kind, e.Provider, e.Value), k, v)
		}
	}
}
