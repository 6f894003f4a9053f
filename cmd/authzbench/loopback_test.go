package main

import (
	"errors"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		wantErr error // nil: accepted; errNotLoopback: refused as such; errAny: refused for a syntax reason
	}{
		{name: "ipv4 loopback", addr: "127.0.0.1:9001"},
		{name: "ipv4 loopback elsewhere in 127/8", addr: "127.10.20.30:80"},
		{name: "ipv4 loopback port zero", addr: "127.0.0.1:0"},
		{name: "ipv6 loopback", addr: "[::1]:9001"},
		{name: "localhost", addr: "localhost:9001"},
		{name: "localhost upper case", addr: "LOCALHOST:9001"},
		{name: "ipv4-mapped loopback", addr: "[::ffff:127.0.0.1]:9001"},
		{name: "private address", addr: "10.0.0.1:9001", wantErr: errNotLoopback},
		{name: "public address", addr: "8.8.8.8:443", wantErr: errNotLoopback},
		{name: "unspecified ipv4", addr: "0.0.0.0:9001", wantErr: errNotLoopback},
		{name: "unspecified ipv6", addr: "[::]:9001", wantErr: errNotLoopback},
		{name: "empty host", addr: ":9001", wantErr: errNotLoopback},
		{name: "other host name", addr: "example.com:9001", wantErr: errNotLoopback},
		{name: "localhost lookalike", addr: "localhost.example.com:9001", wantErr: errNotLoopback},
		{name: "ipv6 with zone", addr: "[::1%lo]:9001", wantErr: errNotLoopback},
		{name: "no port", addr: "127.0.0.1", wantErr: errAny},
		{name: "empty port", addr: "127.0.0.1:", wantErr: errAny},
		{name: "empty", addr: "", wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLoopback(tt.addr)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("checkLoopback(%q) = %v, want nil", tt.addr, err)
			case tt.wantErr == errAny && err == nil:
				t.Fatalf("checkLoopback(%q) = nil, want an error", tt.addr)
			case tt.wantErr == errNotLoopback && !errors.Is(err, errNotLoopback):
				t.Fatalf("checkLoopback(%q) = %v, want errNotLoopback", tt.addr, err)
			}
		})
	}
}

// errAny marks a test case that must fail for any reason.
var errAny = errors.New("any error")
