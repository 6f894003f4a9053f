package jwks

import (
	"net/http"
	"testing"
	"time"
)

func TestCacheMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		wantOK bool
	}{
		{name: "none", header: http.Header{}},
		{name: "max-age", header: http.Header{"Cache-Control": {"public, max-age=120"}}, want: 2 * time.Minute, wantOK: true},
		{name: "upper case and spaces", header: http.Header{"Cache-Control": {" Max-Age = 60 "}}, want: time.Minute, wantOK: true},
		{name: "quoted", header: http.Header{"Cache-Control": {`max-age="30"`}}, want: 30 * time.Second, wantOK: true},
		{name: "less age", header: http.Header{"Cache-Control": {"max-age=100"}, "Age": {"40"}}, want: time.Minute, wantOK: true},
		{name: "age beyond max-age", header: http.Header{"Cache-Control": {"max-age=10"}, "Age": {"40"}}, want: 0, wantOK: true},
		{name: "no-cache", header: http.Header{"Cache-Control": {"max-age=100, no-cache"}}, want: 0, wantOK: true},
		{name: "no-store", header: http.Header{"Cache-Control": {"no-store"}}, want: 0, wantOK: true},
		{name: "first max-age wins", header: http.Header{"Cache-Control": {"max-age=5", "max-age=500"}}, want: 5 * time.Second, wantOK: true},
		{name: "invalid", header: http.Header{"Cache-Control": {"max-age=soon"}}},
		{name: "negative", header: http.Header{"Cache-Control": {"max-age=-5"}}},
		{name: "huge", header: http.Header{"Cache-Control": {"max-age=99999999999999999999999"}}, want: maxAgeCap, wantOK: true},
		{name: "s-maxage only", header: http.Header{"Cache-Control": {"s-maxage=60"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cacheMaxAge(tt.header)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("cacheMaxAge = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second},
		{5, 10 * time.Second}, {60, 10 * time.Second}, {1 << 30, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(time.Second, 10*time.Second, tt.failures); got != tt.want {
			t.Errorf("backoff after %d failures = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

func TestJitterDown(t *testing.T) {
	for _, d := range []time.Duration{0, 5, time.Second, 5 * time.Minute} {
		for range 100 {
			if got := jitterDown(d); got > d || got < d-d/10 {
				t.Fatalf("jitterDown(%v) = %v, outside [90%%, 100%%]", d, got)
			}
		}
	}
}
