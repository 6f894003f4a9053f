package health

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestReadiness(t *testing.T) {
	c := New()
	var jwksErr error = errors.New("provider corp: no keys yet")
	c.Set("jwks", func() error { return jwksErr })
	c.Set("revocation", func() error { return nil })

	status := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := c.GRPC().Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus()
	}
	if status() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatal("serving before the first update")
	}
	tests := []struct {
		name   string
		setup  func()
		code   int
		grpc   healthpb.HealthCheckResponse_ServingStatus
		reason string
	}{
		{"not ready", func() {}, 503, healthpb.HealthCheckResponse_NOT_SERVING, "jwks"},
		{"ready", func() { jwksErr = nil }, 200, healthpb.HealthCheckResponse_SERVING, ""},
		{"shutdown", c.Shutdown, 503, healthpb.HealthCheckResponse_NOT_SERVING, "shutdown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			c.Update()
			rec := httptest.NewRecorder()
			c.Readyz().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tc.code {
				t.Fatalf("readyz %d, want %d", rec.Code, tc.code)
			}
			if tc.reason != "" {
				var body struct{ Reasons map[string]string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Reasons[tc.reason] == "" {
					t.Fatalf("body %s lacks %s", rec.Body, tc.reason)
				}
			}
			if got := status(); got != tc.grpc {
				t.Fatalf("grpc status %v, want %v", got, tc.grpc)
			}
		})
	}
	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatal("healthz not 200")
	}
}
