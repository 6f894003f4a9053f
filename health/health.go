package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ErrShuttingDown is the readiness error once shutdown has begun.
var ErrShuttingDown = errors.New("shutting down")

// Check returns nil when its component is ready, or why it is not.
type Check func() error

// Checker aggregates component checks.
type Checker struct {
	mu       sync.RWMutex
	checks   map[string]Check
	stopping atomic.Bool
	grpc     *health.Server
}

// New returns a Checker whose gRPC health service reports NOT_SERVING
// until the first Update finds every component ready.
func New() *Checker {
	c := &Checker{checks: map[string]Check{}, grpc: health.NewServer()}
	c.grpc.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	return c
}

// Set installs or replaces the check of a component.
func (c *Checker) Set(component string, check Check) {
	c.mu.Lock()
	c.checks[component] = check
	c.mu.Unlock()
}

// Remove drops a component's check.
func (c *Checker) Remove(component string) {
	c.mu.Lock()
	delete(c.checks, component)
	c.mu.Unlock()
}

// Shutdown marks the process not ready, for good.
func (c *Checker) Shutdown() {
	c.stopping.Store(true)
	c.grpc.Shutdown()
}

// Problems runs every check and returns the failing ones by component.
func (c *Checker) Problems() map[string]string {
	out := map[string]string{}
	if c.stopping.Load() {
		out["shutdown"] = ErrShuttingDown.Error()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for name, check := range c.checks {
		if err := check(); err != nil {
			out[name] = err.Error()
		}
	}
	return out
}

// Update sets the gRPC serving status from the checks.
func (c *Checker) Update() {
	if c.stopping.Load() {
		return
	}
	status := healthpb.HealthCheckResponse_SERVING
	if len(c.Problems()) > 0 {
		status = healthpb.HealthCheckResponse_NOT_SERVING
	}
	c.grpc.SetServingStatus("", status)
	c.grpc.SetServingStatus("envoy.service.auth.v3.Authorization", status)
}

// Run calls Update every interval until ctx ends.
func (c *Checker) Run(ctx context.Context, interval time.Duration) {
	c.Update()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Update()
		}
	}
}

// GRPC is the grpc.health.v1 service to register.
func (c *Checker) GRPC() healthpb.HealthServer { return c.grpc }

// Healthz answers 200 while the process runs.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// Readyz answers 200 when every component is ready, else 503 with the
// reasons as JSON.
func (c *Checker) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problems := c.Problems()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if len(problems) == 0 {
			_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
			return
		}
		names := make([]string, 0, len(problems))
		for n := range problems {
			names = append(names, n)
		}
		sort.Strings(names)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "not_ready", "components": names, "reasons": problems})
	})
}
