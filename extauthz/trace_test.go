package extauthz

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/tracing"
)

// The caller's trace in the tests: W3C's example ids.
const (
	callerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID  = "00f067aa0ba902b7"
)

// withTracer gives e's server a tracer sampling ratio of new traces and a
// decision log writing every decision to w (when w is not nil), and
// returns the exporter its spans go to.
func (e *env) withTracer(ratio float64, w *syncBuffer) *tracetest.InMemoryExporter {
	e.t.Helper()
	exp := tracetest.NewInMemoryExporter()
	p, err := tracing.New(e.t.Context(), tracing.Options{SampleRatio: &ratio, Exporter: exp, Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = p.Shutdown(e.t.Context()) })
	opts := Options{Revocation: e.rev, CacheEntries: 1000, Metrics: e.m, Tracer: p}
	if w != nil {
		opts.DecisionLog = NewDecisionLog(w, DecisionLogOptions{SampleAllow: 1, SampleDeny: 1}, e.m, nil)
		e.t.Cleanup(opts.DecisionLog.Close)
	}
	srv, err := NewServer(e.policy(nil), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	return exp
}

func spanAttrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// TestCheckSpanJoinsCallerTrace: the Check span is the child of the
// caller's span, read from each header form Envoy and Istio send, even
// when no new trace would be sampled.
func TestCheckSpanJoinsCallerTrace(t *testing.T) {
	tests := map[string]map[string]string{
		"traceparent": {"traceparent": "00-" + callerTraceID + "-" + callerSpanID + "-01", "tracestate": "vendor=x"},
		"b3 single":   {"b3": callerTraceID + "-" + callerSpanID + "-1"},
		"b3 multi":    {"x-b3-traceid": callerTraceID, "x-b3-spanid": callerSpanID, "x-b3-sampled": "1"},
	}
	for name, hdrs := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			exp := e.withTracer(0, nil)
			h := bearerHdr(e.token(nil))
			for k, v := range hdrs {
				h[k] = v
			}
			if r := reasonOf(e.check("GET", "/orders", h)); r != "ok" {
				t.Fatalf("reason %s", r)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			if s.Name != spanCheck || s.SpanKind != 2 /* server */ {
				t.Errorf("span %q kind %v", s.Name, s.SpanKind)
			}
			if got := s.SpanContext.TraceID().String(); got != callerTraceID {
				t.Errorf("trace id %s, want %s", got, callerTraceID)
			}
			if got := s.Parent.SpanID().String(); got != callerSpanID || !s.Parent.IsRemote() {
				t.Errorf("parent span id %s (remote %v), want %s", got, s.Parent.IsRemote(), callerSpanID)
			}
		})
	}
}

// TestCheckSpanSampling: with ratio 0, an unsampled caller and a request
// without a caller give no span; with ratio 1 a request without a caller
// starts a new trace.
func TestCheckSpanSampling(t *testing.T) {
	tests := map[string]struct {
		ratio float64
		trace map[string]string
		spans int
	}{
		"no caller, ratio 0":        {0, nil, 0},
		"no caller, ratio 1":        {1, nil, 1},
		"unsampled caller, ratio 1": {1, map[string]string{"traceparent": "00-" + callerTraceID + "-" + callerSpanID + "-00"}, 0},
		"unsampled b3, ratio 1":     {1, map[string]string{"b3": callerTraceID + "-" + callerSpanID + "-0"}, 0},
		"malformed caller, ratio 0": {0, map[string]string{"traceparent": "00-nonsense"}, 0},
		"malformed caller, ratio 1": {1, map[string]string{"traceparent": "00-nonsense"}, 1},
		"sampled caller, ratio 0":   {0, map[string]string{"traceparent": "00-" + callerTraceID + "-" + callerSpanID + "-01"}, 1},
		"b3 debug caller, ratio 0":  {0, map[string]string{"x-b3-traceid": callerTraceID, "x-b3-spanid": callerSpanID, "x-b3-flags": "1"}, 1},
		"traceparent wins over b3":  {0, map[string]string{"traceparent": "00-" + callerTraceID + "-" + callerSpanID + "-01", "b3": "0"}, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			exp := e.withTracer(tc.ratio, nil)
			h := bearerHdr(e.token(nil))
			for k, v := range tc.trace {
				h[k] = v
			}
			e.check("GET", "/orders", h)
			if n := len(exp.GetSpans()); n != tc.spans {
				t.Fatalf("%d spans, want %d", n, tc.spans)
			}
		})
	}
}

// TestCheckSpanAttributes: the span tells provider, result, reason and
// cache hit, and holds neither the token nor any claim but a hash of sub.
func TestCheckSpanAttributes(t *testing.T) {
	e := newEnv(t, nil)
	exp := e.withTracer(1, nil)
	tok := e.token(nil)
	e.check("GET", "/orders", bearerHdr(tok))
	e.check("GET", "/orders", bearerHdr(tok))
	e.check("GET", "/orders", bearerHdr(tok+"x"))
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	want := []map[string]string{
		{"jwt_authz.provider": "corp", "jwt_authz.result": "allowed", "jwt_authz.reason": "ok", "jwt_authz.cache_hit": "false",
			"jwt_authz.sub_hash": string(appendSubHash(nil, "alice")), "http.request.method": "GET", "url.path": "/orders"},
		{"jwt_authz.provider": "corp", "jwt_authz.result": "allowed", "jwt_authz.reason": "ok", "jwt_authz.cache_hit": "true"},
		{"jwt_authz.result": "denied", "jwt_authz.reason": "malformed", "jwt_authz.cache_hit": "false"},
	}
	payload := strings.Split(tok, ".")[1]
	for i, s := range spans {
		got := spanAttrs(s.Attributes)
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("span %d: %s = %q, want %q", i, k, got[k], v)
			}
		}
		for k, v := range got {
			for _, secret := range []string{tok, payload, "alice", "acme", "read write", "admin"} {
				if strings.Contains(v, secret) {
					t.Errorf("span %d: %s = %q holds %q", i, k, v, secret)
				}
			}
		}
		if _, ok := got["jwt_authz.sub_hash"]; i == 2 && ok {
			t.Errorf("a denied unverified token's span has a sub hash")
		}
	}
}

// TestForwardAuthSpan: forward-auth reads the caller's trace from the
// request's own headers.
func TestForwardAuthSpan(t *testing.T) {
	e := newEnv(t, nil)
	exp := e.withTracer(0, nil)
	req := httptest.NewRequest(http.MethodGet, ForwardAuthPrefix+"/orders", nil)
	req.Host = "api.example.com"
	req.Header.Set("Authorization", "Bearer "+e.token(nil))
	req.Header.Set("X-B3-TraceId", callerTraceID)
	req.Header.Set("X-B3-SpanId", callerSpanID)
	req.Header.Set("X-B3-Sampled", "1")
	rec := httptest.NewRecorder()
	e.srv.ForwardAuthHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name != spanForwardAuth || s.Parent.SpanID().String() != callerSpanID || s.SpanContext.TraceID().String() != callerTraceID {
		t.Fatalf("span %q parent %s trace %s", s.Name, s.Parent.SpanID(), s.SpanContext.TraceID())
	}
	if got := spanAttrs(s.Attributes); got["url.path"] != "/orders" || got["jwt_authz.result"] != "allowed" {
		t.Fatalf("attributes %v", got)
	}
}

// TestDecisionLogTraceID: a decision log line carries the trace id of the
// decision's span, of an unsampled caller's trace, and of a B3 caller
// when tracing is off; a line without any has none.
func TestDecisionLogTraceID(t *testing.T) {
	e := newEnv(t, nil)
	var out syncBuffer
	exp := e.withTracer(1, &out)
	tok := e.token(nil)
	e.check("GET", "/orders", bearerHdr(tok)) // a new trace
	unsampled := bearerHdr(tok)
	unsampled["traceparent"] = "00-" + callerTraceID + "-" + callerSpanID + "-00"
	e.check("GET", "/orders", unsampled)
	e.srv.dlog.Close()

	off := newEnv(t, nil)
	var offOut syncBuffer
	dl := off.withDecisionLog(DecisionLogOptions{SampleAllow: 1, SampleDeny: 1}, &offOut, nil)
	b3 := bearerHdr(off.token(nil))
	b3["b3"] = callerTraceID + "-" + callerSpanID + "-1"
	off.check("GET", "/orders", b3)
	off.check("GET", "/orders", bearerHdr(off.token(nil)))
	dl.Close()

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	lines := append(decisionLines(t, out.String()), decisionLines(t, offOut.String())...)
	want := []any{spans[0].SpanContext.TraceID().String(), callerTraceID, callerTraceID, nil}
	if len(lines) != len(want) {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if l["trace_id"] != want[i] {
			t.Errorf("line %d: trace_id %v, want %v", i, l["trace_id"], want[i])
		}
	}
}

// TestCheckTracingAllocations: a cached Check allocates nothing with
// tracing off, and nothing with tracing on when the sampler drops it and
// the request has no trace headers.
func TestCheckTracingAllocations(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	for _, on := range []bool{false, true} {
		e := newEnv(t, nil)
		if on {
			e.withTracer(0, nil)
		}
		run := e.wireRun(t, e.token(nil))
		if allocs := testing.AllocsPerRun(200, run); allocs > 0 {
			t.Errorf("tracing %v: %v allocations per cached Check", on, allocs)
		}
	}
}
