package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/session"
	"github.com/jwt-authz/jwt-authz/tracing"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes every
// ExportTraceServiceRequest posted to /v1/traces and keeps its spans.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource map[string]string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{resource: map[string]string{}}
	rc.Server = testkit.OTLPReceiver(t, func(req *coltracepb.ExportTraceServiceRequest) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				rc.resource[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
	})
	return rc
}

func (rc *otlpReceiver) received() ([]*tracepb.Span, map[string]string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...), rc.resource
}

// TestTracingOTLPHTTP drives real gRPC Checks through a server that
// exports to a real OTLP/HTTP receiver: the Check of a sampled caller is
// exported at shutdown as the child of the caller's span, with the
// decision's attributes and neither token nor claims; a Check without a
// caller is not sampled at ratio 0; the decision log line carries the
// caller's trace id.
func TestTracingOTLPHTTP(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	rc := newOTLPReceiver(t)
	k := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k)
	dlog := filepath.Join(t.TempDir(), "decisions.log")
	in := start(t, corpConfig(js.URL, "tracing:\n  enabled: true\n  endpoint: "+rc.URL+"\n  protocol: http/protobuf\n  sample_ratio: 0\n"+
		"decision_log:\n  enabled: true\n  path: "+dlog+"\n  sample_allow: 1\n"), "")
	eventually(t, "ready", in.grpcServing)
	tok := corpToken(t, k)
	if got := reasonOf(in.checkWith(tok, "/orders", map[string]string{"traceparent": "00-" + traceID + "-" + spanID + "-01"})); got != "ok" {
		t.Fatal(got)
	}
	if got := reasonOf(in.checkWith(tok, "/orders", nil)); got != "ok" {
		t.Fatal(got)
	}
	in.stop() // flushes the batched spans

	spans, resource := rc.received()
	if resource["service.name"] != "jwt-authz" {
		t.Errorf("resource %v", resource)
	}
	var checks []*tracepb.Span
	for _, s := range spans {
		if s.GetName() == "envoy.service.auth.v3.Authorization/Check" {
			checks = append(checks, s)
		}
	}
	if len(checks) != 1 {
		t.Fatalf("%d Check spans exported of %d spans, want 1", len(checks), len(spans))
	}
	s := checks[0]
	if got := hex.EncodeToString(s.GetTraceId()); got != traceID {
		t.Errorf("trace id %s, want %s", got, traceID)
	}
	if got := hex.EncodeToString(s.GetParentSpanId()); got != spanID {
		t.Errorf("parent span id %s, want %s", got, spanID)
	}
	if s.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("kind %v", s.GetKind())
	}
	attrs := map[string]string{}
	for _, kv := range s.GetAttributes() {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			attrs[kv.GetKey()] = v.GetStringValue()
		default:
			b, _ := json.Marshal(v.GetValue())
			attrs[kv.GetKey()] = string(b)
		}
	}
	for key, want := range map[string]string{"jwt_authz.provider": "corp", "jwt_authz.result": "allowed", "jwt_authz.reason": "ok", "url.path": "/orders"} {
		if attrs[key] != want {
			t.Errorf("%s = %q, want %q", key, attrs[key], want)
		}
	}
	if _, ok := attrs["jwt_authz.cache_hit"]; !ok {
		t.Error("no jwt_authz.cache_hit")
	}
	if len(attrs["jwt_authz.sub_hash"]) != 16 {
		t.Errorf("sub hash %q", attrs["jwt_authz.sub_hash"])
	}
	for key, v := range attrs {
		for _, secret := range append(strings.Split(tok, "."), "alice") {
			if strings.Contains(v, secret) {
				t.Errorf("%s = %q holds %q", key, v, secret)
			}
		}
	}

	raw, err := os.ReadFile(dlog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d decision log lines", len(lines))
	}
	var first, second struct {
		TraceID string `json:"trace_id"`
	}
	if json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("lines %q", lines)
	}
	if first.TraceID != traceID || second.TraceID != "" {
		t.Errorf("trace ids %q, %q; want %q and none", first.TraceID, second.TraceID, traceID)
	}
}

// TestTracingOffStartsNothing: without tracing the server builds no
// pipeline, and the Check server gets no tracer.
func TestTracingOffStartsNothing(t *testing.T) {
	cfg, err := config.Parse([]byte("tracing:\n  enabled: false\n  endpoint: 127.0.0.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := startTracing(t.Context(), cfg, func(string) (string, bool) { return "", false }, nil)
	if err != nil || p != nil {
		t.Fatalf("startTracing = %v, %v", p, err)
	}
	if checkTracer(p) != nil || ownTracer(p) != nil {
		t.Fatal("a tracer with tracing off")
	}
	if err := traceRedis(nil, p); err != nil {
		t.Fatal(err)
	}
}

// TestTracingRedisRoundTrips: with tracing on, every Redis round trip of
// the revocation and session stores (a revocation write, a pull, a
// session rotation) records a client span naming the command, and no
// span holds a revoked id, a session id or a refresh token id.
func TestTracingRedisRoundTrips(t *testing.T) {
	addr := redisserver.Shared(t)
	exp := tracetest.NewInMemoryExporter()
	one := 1.0
	p, err := tracing.New(t.Context(), tracing.Options{SampleRatio: &one, Exporter: exp, Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	cfg := &config.Config{Revocation: config.Revocation{Store: "redis", RedisURL: "redis://" + addr}}
	st, err := openStores(cfg, slog.New(slog.DiscardHandler), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ctx := t.Context()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	jti, sid, rjti, next := "jti-"+suffix, "sid-"+suffix, "rt-"+suffix, "rt2-"+suffix
	now := time.Now()
	if err := st.revStore.Put(ctx, revocation.Entry{Kind: revocation.KindJTI, Value: jti, ExpiresAt: now.Add(time.Hour).Unix(), CreatedAt: now.UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	shared, ok := st.revStore.(revocation.Shared)
	if !ok {
		t.Fatal("the redis store is not shared")
	}
	if _, _, err := shared.Pull(ctx, revocation.Cursor{}, func(revocation.Entry) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.sessions.Create(ctx, session.Session{ID: sid, Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RefreshJTI: rjti, RetainUntil: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.sessions.Rotate(ctx, sid, rjti, session.Rotation{JTI: next, RetainUntil: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) < 4 {
		t.Fatalf("%d spans for 4 store calls", len(spans))
	}
	for _, s := range spans {
		if s.SpanKind != 3 /* client */ {
			t.Errorf("span %q kind %v", s.Name, s.SpanKind)
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
			for _, secret := range []string{jti, sid, rjti, next, "alice"} {
				if strings.Contains(kv.Value.Emit(), secret) || strings.Contains(s.Name, secret) {
					t.Errorf("span %q: %s = %q holds %q", s.Name, kv.Key, kv.Value.Emit(), secret)
				}
			}
		}
		if attrs["db.system"] != "redis" {
			t.Errorf("span %q: attributes %v", s.Name, attrs)
		}
	}
}
