package health

import (
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const authzService = "envoy.service.auth.v3.Authorization"

// fakeClock runs timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[int]fakeTimer
	seq    int
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), timers: map[int]fakeTimer{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	c.timers[id] = fakeTimer{at: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// pending is how many timers are armed.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// advance moves the clock and runs every timer that is due, in the
// caller's goroutine.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for id, t := range c.timers {
		if !t.at.After(c.now) {
			due = append(due, t.f)
			delete(c.timers, id)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// comp is a component whose state the test sets.
type comp struct {
	mu    sync.Mutex
	until time.Time
	err   error
}

func (c *comp) set(until time.Time, err error) {
	c.mu.Lock()
	c.until, c.err = until, err
	c.mu.Unlock()
}

func (c *comp) probe() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.until, c.err
}

// views samples both views of readiness.
type views struct {
	t  *testing.T
	c  *Checker
	hc healthpb.HealthClient
}

func newViews(t *testing.T, c *Checker) *views {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, c.GRPC())
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &views{t: t, c: c, hc: healthpb.NewHealthClient(conn)}
}

// readyz returns the /readyz status code and body.
func (v *views) readyz() (int, map[string]any) {
	rec := httptest.NewRecorder()
	v.c.Readyz().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		v.t.Fatalf("readyz body %q: %v", rec.Body, err)
	}
	return rec.Code, body
}

// serving asks the gRPC health service about service.
func (v *views) serving(service string) bool {
	resp, err := v.hc.Check(v.t.Context(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		v.t.Fatal(err)
	}
	return resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// agree checks that both views and both services say ready, or both say
// not ready, and returns which.
func (v *views) agree() bool {
	v.t.Helper()
	code, body := v.readyz()
	whole, authz := v.serving(""), v.serving(authzService)
	ready := code == 200
	if whole != ready || authz != ready || (body["status"] == "ready") != ready {
		v.t.Fatalf("readyz %d %v, gRPC %v / %v", code, body, whole, authz)
	}
	return ready
}

func TestReadinessFollowsComponents(t *testing.T) {
	clock := newFakeClock()
	c := New(Options{Services: []string{authzService}, Clock: clock})
	v := newViews(t, c)
	if !v.agree() {
		t.Fatal("not ready without components")
	}
	store, corp, partner := &comp{}, &comp{}, &comp{}
	corp.set(time.Time{}, errors.New("no keys yet"))
	partner.set(time.Time{}, errors.New("connection refused"))
	c.Set("store", Component{Probe: store.probe})
	c.SetGroup("providers", map[string]Component{
		"corp":    {Probe: corp.probe},
		"partner": {Probe: partner.probe, Optional: true},
	})
	if v.agree() {
		t.Fatal("ready while corp has no keys")
	}
	code, body := v.readyz()
	want := `{"optional":{"providers":{"partner":"connection refused"}},"providers":{"corp":"no keys yet"},"status":"not_ready"}`
	if b, _ := json.Marshal(body); string(b) != want || code != 503 {
		t.Fatalf("readyz %d %s, want %s", code, b, want)
	}

	corp.set(time.Time{}, nil)
	c.Notify()
	if !v.agree() {
		t.Fatal("not ready with only an optional provider failing")
	}
	if _, body := v.readyz(); body["optional"] == nil {
		t.Fatalf("a ready body does not name the failing optional provider: %v", body)
	}

	store.set(time.Time{}, errors.New("redis unreachable"))
	corp.set(time.Time{}, errors.New("stale"))
	c.Notify()
	if v.agree() {
		t.Fatal("ready without a store")
	}
	if _, body := v.readyz(); body["store"] != "redis unreachable" || body["providers"] == nil {
		t.Fatalf("body %v does not name the store and corp", body)
	}

	// A group is replaced as a whole.
	c.SetGroup("providers", map[string]Component{"partner": {Probe: partner.probe, Optional: true}})
	store.set(time.Time{}, nil)
	c.Notify()
	if !v.agree() {
		t.Fatal("the removed provider still gates readiness")
	}
	c.Shutdown()
	if v.agree() {
		t.Fatal("ready after shutdown")
	}
	if _, body := v.readyz(); body["shutdown"] != ErrShuttingDown.Error() {
		t.Fatalf("body %v", body)
	}
	c.Notify()
	if v.agree() {
		t.Fatal("ready again after shutdown")
	}
}

func TestReadinessExpiresOnTime(t *testing.T) {
	clock := newFakeClock()
	c := New(Options{Services: []string{authzService}, Clock: clock})
	v := newViews(t, c)
	keys := &comp{}
	keys.set(clock.Now().Add(time.Minute), nil)
	c.SetGroup("providers", map[string]Component{"corp": {Probe: keys.probe}})
	if !v.agree() {
		t.Fatal("not ready")
	}
	clock.advance(time.Minute - time.Nanosecond)
	if !v.agree() {
		t.Fatal("expired early")
	}
	// The component does not notify: the deadline alone flips both views.
	clock.advance(time.Nanosecond)
	if v.agree() {
		t.Fatal("still ready at the deadline")
	}
	if _, body := v.readyz(); body["providers"] == nil {
		t.Fatalf("body %v", body)
	}
	if n := clock.pending(); n != 0 {
		t.Fatalf("%d timers armed with nothing left to expire", n)
	}
	// A renewal moves the deadline; the earlier one no longer fires.
	keys.set(clock.Now().Add(time.Minute), nil)
	c.Notify()
	keys.set(clock.Now().Add(2*time.Minute), nil)
	c.Notify()
	if n := clock.pending(); n != 1 {
		t.Fatalf("%d timers armed, want 1", n)
	}
	clock.advance(time.Minute)
	if !v.agree() {
		t.Fatal("expired at a superseded deadline")
	}
	clock.advance(time.Minute)
	if v.agree() {
		t.Fatal("still ready past the deadline")
	}
}

func TestUnknownService(t *testing.T) {
	c := New(Options{Services: []string{authzService}})
	v := newViews(t, c)
	_, err := v.hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "other"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v", err)
	}
	list, err := v.hc.List(t.Context(), &healthpb.HealthListRequest{})
	if err != nil || len(list.GetStatuses()) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
}

func TestWatchSendsEveryChange(t *testing.T) {
	c := New(Options{Services: []string{authzService}})
	v := newViews(t, c)
	keys := &comp{}
	keys.set(time.Time{}, errors.New("no keys yet"))
	c.Set("keys", Component{Probe: keys.probe})
	stream, err := v.hc.Watch(t.Context(), &healthpb.HealthCheckRequest{Service: authzService})
	if err != nil {
		t.Fatal(err)
	}
	next := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus()
	}
	if s := next(); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("first %v", s)
	}
	keys.set(time.Time{}, nil)
	c.Notify()
	if s := next(); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("after recovery %v", s)
	}
	c.Shutdown()
	if s := next(); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("after shutdown %v", s)
	}
}

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatal("healthz not 200")
	}
}

func TestCloseStopsExpiry(t *testing.T) {
	clock := newFakeClock()
	c := New(Options{Clock: clock})
	keys := &comp{}
	keys.set(clock.Now().Add(time.Minute), nil)
	c.Set("keys", Component{Probe: keys.probe})
	if clock.pending() != 1 {
		t.Fatal("no expiry timer")
	}
	c.Close()
	c.Notify()
	if n := clock.pending(); n != 0 {
		t.Fatalf("%d timers armed after Close", n)
	}
}
