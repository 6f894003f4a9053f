package main

import (
	"testing"
	"time"
)

func TestNewCheckRequest(t *testing.T) {
	req := newCheckRequest("tok.en.sig", 7, time.Unix(1_800_000_000, 0))
	if err := req.ValidateAll(); err != nil {
		t.Fatalf("request does not pass the proto's own validation: %v", err)
	}
	h := req.GetAttributes().GetRequest().GetHttp()
	tests := map[string]struct{ got, want string }{
		"method":         {h.GetMethod(), "GET"},
		"path":           {h.GetPath(), "/api/orders"},
		"host":           {h.GetHost(), benchHost},
		"authorization":  {h.GetHeaders()["authorization"], "Bearer tok.en.sig"},
		":path header":   {h.GetHeaders()[":path"], "/api/orders"},
		":method header": {h.GetHeaders()[":method"], "GET"},
		"x-request-id":   {h.GetHeaders()["x-request-id"], "00000000-0000-4000-8000-000000000007"},
		"source address": {req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress(), "10.0.0.12"},
		"request time":   {req.GetAttributes().GetRequest().GetTime().AsTime().UTC().Format(time.RFC3339), "2027-01-15T08:00:00Z"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("%s = %q, want %q", name, tt.got, tt.want)
			}
		})
	}
	other := newCheckRequest("tok.en.sig", 8, time.Now())
	if other.GetAttributes().GetRequest().GetHttp().GetHeaders()["x-request-id"] == h.GetHeaders()["x-request-id"] {
		t.Fatal("two requests share an x-request-id")
	}
}

func BenchmarkNewCheckRequest(b *testing.B) {
	b.ReportAllocs()
	now := time.Now()
	i := 0
	for b.Loop() {
		newCheckRequest("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", i, now)
		i++
	}
}
