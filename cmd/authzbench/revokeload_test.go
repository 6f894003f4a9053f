package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAdmin records the revocations POSTed to it.
type fakeAdmin struct {
	mu     sync.Mutex
	jtis   map[string]int64
	status int // answer for every request
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != revocationsPath || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request line", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Authorization") != "Bearer admin-secret" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var body struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.JTI == "" || body.Exp == 0 {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if f.status != http.StatusCreated {
		w.WriteHeader(f.status)
		return
	}
	f.mu.Lock()
	f.jtis[body.JTI] = body.Exp
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func TestRevokeLoad(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name        string
		status      int
		jtis        []string
		count       int
		token       string
		wantCreated int64
		wantErr     error
	}{
		{name: "listed jtis then fillers", status: http.StatusCreated, jtis: []string{"a", "b", "c"}, count: 250, token: "admin-secret", wantCreated: 250},
		{name: "count below the listed jtis revokes them all", status: http.StatusCreated, jtis: []string{"a", "b", "c"}, count: 1, token: "admin-secret", wantCreated: 3},
		{name: "a refusing server stops the load", status: http.StatusNotFound, count: 100_000, token: "admin-secret", wantErr: errRevocationsRefused},
		{name: "a wrong admin token stops the load", status: http.StatusCreated, count: 100_000, token: "nope", wantErr: errRevocationsRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := &fakeAdmin{jtis: map[string]int64{}, status: tt.status}
			srv := httptest.NewServer(fa)
			defer srv.Close()
			res, err := revokeLoad(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), revokeSpec{
				Admin: strings.TrimPrefix(srv.URL, "http://"), AdminToken: tt.token,
				JTIs: tt.jtis, Count: tt.count, Concurrency: 8, Exp: exp,
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("revokeLoad error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if res.Created != 0 || res.Errors < 100 || res.Errors > 100+8 {
					t.Fatalf("refused load: created %d errors %d, want 0 and about 100", res.Created, res.Errors)
				}
				return
			}
			if res.Created != tt.wantCreated || res.Errors != 0 || int64(len(fa.jtis)) != tt.wantCreated {
				t.Fatalf("created %d errors %d server saw %d, want %d 0 %d", res.Created, res.Errors, len(fa.jtis), tt.wantCreated, tt.wantCreated)
			}
			for _, j := range tt.jtis {
				if fa.jtis[j] != exp.Unix() {
					t.Fatalf("listed jti %s: exp %d, want %d", j, fa.jtis[j], exp.Unix())
				}
			}
		})
	}
}

func TestRevokeLoadRefusesNonLoopback(t *testing.T) {
	_, err := revokeLoad(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), revokeSpec{Admin: "192.0.2.1:9090", Count: 1, Concurrency: 1})
	if !errors.Is(err, errNotLoopback) {
		t.Fatalf("revokeLoad = %v, want errNotLoopback", err)
	}
}
