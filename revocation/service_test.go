package revocation_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

func TestNewServiceLoadsUnexpiredEntries(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	now := clock.Now().Unix()
	store := memory.New(nil)
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindJTI, Value: "live", ExpiresAt: now + 60},
		{Kind: revocation.KindJTI, Value: "expired", ExpiresAt: now},
		{Kind: revocation.KindSID, Value: "session", ExpiresAt: now + 60},
		{Kind: revocation.KindSub, Value: "user", Before: now - 10, ExpiresAt: now + 60},
	} {
		if err := store.Put(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock.Now, Metrics: revocation.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		jti, sid, sub string
		iat           int64
		want          error
	}{
		"live jti":               {jti: "live", want: revocation.ErrRevoked},
		"expired jti not loaded": {jti: "expired", want: nil},
		"session":                {sid: "session", want: revocation.ErrRevoked},
		"user before cut-off":    {sub: "user", iat: now - 11, want: revocation.ErrRevoked},
		"user at cut-off":        {sub: "user", iat: now - 10, want: revocation.ErrRevoked},
		"user after cut-off":     {sub: "user", iat: now - 9, want: nil},
		"someone else entirely":  {jti: "x", sid: "y", sub: "z", iat: 1, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := svc.Index().Check("", tc.jti, tc.sid, tc.sub, tc.iat); got != tc.want {
				t.Fatalf("Check = %v, want %v", got, tc.want)
			}
		})
	}
	if err := svc.Ready(); err != nil {
		t.Fatalf("Ready with a local store = %v", err)
	}
	if got := metricValue(t, reg, "jwt_authz_revoked_entries", "jti"); got != 1 {
		t.Fatalf("jwt_authz_revoked_entries{kind=jti} = %v, want 1", got)
	}
	if got := metricValue(t, reg, "jwt_authz_revocation_store_up", ""); got != 1 {
		t.Fatalf("jwt_authz_revocation_store_up = %v, want 1", got)
	}
}

func TestNewServiceFailsWhenLocalStoreCannotLoad(t *testing.T) {
	store := newFlakyStore()
	store.setFailing(true)
	if _, err := revocation.NewService(store, revocation.Options{}); !errors.Is(err, errInjected) {
		t.Fatalf("NewService = %v, want the store's error", err)
	}
	if _, err := revocation.NewService(nil, revocation.Options{}); err == nil {
		t.Fatal("NewService(nil) succeeded")
	}
}

func TestServiceRevoke(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	now := clock.Now().Unix()
	var logs testkit.LogBuffer
	reg := prometheus.NewPedanticRegistry()
	store := memory.New(nil)
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock.Now, Logger: logs.Logger(slog.LevelDebug), Metrics: revocation.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		entry         revocation.Entry
		jti, sid, sub string
		iat           int64
	}{
		"jti": {entry: revocation.Entry{Kind: revocation.KindJTI, Value: "secret-jti-1", ExpiresAt: now + 300}, jti: "secret-jti-1"},
		"sid": {entry: revocation.Entry{Kind: revocation.KindSID, Value: "secret-sid-1", ExpiresAt: now + 300}, sid: "secret-sid-1"},
		"sub": {entry: revocation.Entry{Kind: revocation.KindSub, Value: "secret-sub-1", Before: now, ExpiresAt: now + 300}, sub: "secret-sub-1", iat: now - 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := svc.Index().Check("", tc.jti, tc.sid, tc.sub, tc.iat); got != nil {
				t.Fatalf("before Revoke: Check = %v", got)
			}
			ctx := revocation.WithActor(t.Context(), revocation.Actor{Name: "admin_api", RemoteAddr: "192.0.2.7:5555"})
			if err := svc.Revoke(ctx, tc.entry); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got := svc.Index().Check("", tc.jti, tc.sid, tc.sub, tc.iat); got != revocation.ErrRevoked {
				t.Fatalf("after Revoke: Check = %v, want ErrRevoked", got)
			}
			stored, ok, err := store.Get(t.Context(), tc.entry.Kind, "", tc.entry.Value)
			if err != nil || !ok {
				t.Fatalf("not in the store: %v %v", ok, err)
			}
			if stored.CreatedAt != clock.Now().UnixMilli() {
				t.Fatalf("CreatedAt = %d, want now in milliseconds (%d)", stored.CreatedAt, clock.Now().UnixMilli())
			}
			got, ok, err := svc.Lookup(t.Context(), tc.entry.Kind, "", tc.entry.Value)
			if err != nil || !ok || got != stored {
				t.Fatalf("Lookup = %+v, %v, %v; want %+v", got, ok, err, stored)
			}
			if c := metricValue(t, reg, "jwt_authz_revocations_total", string(tc.entry.Kind)); c != 1 {
				t.Fatalf("jwt_authz_revocations_total{kind=%s} = %v, want 1", tc.entry.Kind, c)
			}
			out := logs.String()
			if !strings.Contains(out, "id_hash="+revocation.IDHash(tc.entry.Value)) || !strings.Contains(out, "actor=admin_api") || !strings.Contains(out, "remote_addr=192.0.2.7:5555") {
				t.Fatalf("audit log lacks actor, address or id hash:\n%s", out)
			}
			if strings.Contains(out, tc.entry.Value) {
				t.Fatalf("log contains the identifier %q:\n%s", tc.entry.Value, out)
			}
		})
	}
}

func TestServiceRevokeRejects(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	now := clock.Now().Unix()
	store := memory.New(nil)
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]revocation.Entry{
		"invalid kind":       {Kind: "aud", Value: "x", ExpiresAt: now + 10},
		"empty value":        {Kind: revocation.KindJTI, ExpiresAt: now + 10},
		"already expired":    {Kind: revocation.KindJTI, Value: "old", ExpiresAt: now},
		"sub without cutoff": {Kind: revocation.KindSub, Value: "u", ExpiresAt: now + 10},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			if err := svc.Revoke(t.Context(), e); !errors.Is(err, revocation.ErrInvalidEntry) {
				t.Fatalf("Revoke = %v, want ErrInvalidEntry", err)
			}
			n := 0
			_ = store.List(t.Context(), time.Unix(0, 0), func(revocation.Entry) error { n++; return nil })
			if n != 0 {
				t.Fatalf("store holds %d entries after a rejected Revoke", n)
			}
		})
	}
}

func TestServiceRevokeStoreFailure(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFlakyStore()
	reg := prometheus.NewPedanticRegistry()
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock.Now, Metrics: revocation.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	store.setFailing(true)
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "j", ExpiresAt: clock.Now().Unix() + 60}
	err = svc.Revoke(t.Context(), e)
	if !errors.Is(err, revocation.ErrUnavailable) || !errors.Is(err, errInjected) {
		t.Fatalf("Revoke on a failing store = %v, want ErrUnavailable wrapping the cause", err)
	}
	if got := svc.Index().Check("", "j", "", "", 0); got != nil {
		t.Fatalf("a revocation that was not recorded was applied: Check = %v", got)
	}
	if got := metricValue(t, reg, "jwt_authz_revocation_store_up", ""); got != 0 {
		t.Fatalf("store_up after a failed write = %v, want 0", got)
	}
	if _, _, err := svc.Lookup(t.Context(), e.Kind, "", e.Value); !errors.Is(err, revocation.ErrUnavailable) {
		t.Fatalf("Lookup on a failing store = %v, want ErrUnavailable", err)
	}

	store.setFailing(false)
	if err := svc.Revoke(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "jwt_authz_revocation_store_up", ""); got != 1 {
		t.Fatalf("store_up after a good write = %v, want 1", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := svc.Revoke(ctx, revocation.Entry{Kind: revocation.KindJTI, Value: "k", ExpiresAt: e.ExpiresAt}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Revoke with a canceled context = %v, want context.Canceled", err)
	}
}

func TestServiceLookup(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := revocation.Entry{Kind: revocation.KindJTI, Value: "j", ExpiresAt: clock.Now().Unix() + 60}
	if err := svc.Revoke(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		kind    revocation.Kind
		value   string
		advance time.Duration
		found   bool
		err     error
	}{
		"found":            {kind: revocation.KindJTI, value: "j", found: true},
		"other kind":       {kind: revocation.KindSID, value: "j"},
		"unknown":          {kind: revocation.KindJTI, value: "nope"},
		"bad kind":         {kind: "x", value: "j", err: revocation.ErrInvalidEntry},
		"empty value":      {kind: revocation.KindJTI, err: revocation.ErrInvalidEntry},
		"oversized value":  {kind: revocation.KindJTI, value: strings.Repeat("j", revocation.MaxValueBytes+1), err: revocation.ErrInvalidEntry},
		"after its expiry": {kind: revocation.KindJTI, value: "j", advance: time.Minute},
	}
	for _, name := range []string{"found", "other kind", "unknown", "bad kind", "empty value", "oversized value", "after its expiry"} {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			clock.Advance(tc.advance)
			_, found, err := svc.Lookup(t.Context(), tc.kind, "", tc.value)
			if found != tc.found || !errors.Is(err, tc.err) {
				t.Fatalf("Lookup = found %v, err %v; want %v, %v", found, err, tc.found, tc.err)
			}
		})
	}
}

func TestServiceRunSweepsExpired(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := memory.New(nil)
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock.Now, SweepInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now().Unix()
	for _, e := range []revocation.Entry{
		{Kind: revocation.KindJTI, Value: "short", ExpiresAt: now + 10},
		{Kind: revocation.KindSub, Value: "u", Before: now, ExpiresAt: now + 10},
		{Kind: revocation.KindSID, Value: "long", ExpiresAt: now + 1000},
	} {
		if err := svc.Revoke(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	runService(t, svc)
	clock.Advance(10 * time.Second)
	eventually(t, "expired entries swept from index and store", func() bool {
		n := 0
		_ = store.List(t.Context(), time.Unix(0, 0), func(revocation.Entry) error { n++; return nil })
		return svc.Index().Len(revocation.KindJTI) == 0 && svc.Index().Len(revocation.KindSub) == 0 && n == 1
	})
	if got := svc.Index().Check("", "", "long", "", 0); got != revocation.ErrRevoked {
		t.Fatalf("unexpired sid: Check = %v, want ErrRevoked", got)
	}
}

func TestServiceClose(t *testing.T) {
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if got := svc.Index().Check("", "any", "", "", 0); got != revocation.ErrUnavailable {
		t.Fatalf("Check after Close = %v, want ErrUnavailable (fail closed)", got)
	}
}

func TestServiceRunTwice(t *testing.T) {
	var logs testkit.LogBuffer
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{Logger: logs.Logger(slog.LevelDebug)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{}, 2)
	for range 2 {
		go func() {
			svc.Run(ctx)
			done <- struct{}{}
		}()
	}
	// Whichever call came second returns at once; the other runs until
	// its context ends.
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("neither Run returned; the second call should")
	}
	if !strings.Contains(logs.String(), "Run called twice") {
		t.Fatalf("second Run not reported:\n%s", logs.String())
	}
	cancel()
	<-done
}

func TestNewMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := revocation.NewMetrics(reg)
	b := revocation.NewMetrics(reg) // a second Service on the same registry
	for _, m := range []*revocation.Metrics{a, b} {
		svc, err := revocation.NewService(memory.New(nil), revocation.Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindSID, Value: "s", ExpiresAt: time.Now().Add(time.Hour).Unix()}); err != nil {
			t.Fatal(err)
		}
	}
	if got := metricValue(t, reg, "jwt_authz_revocations_total", "sid"); got != 2 {
		t.Fatalf("revocations counted on a shared registry = %v, want 2", got)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
}
