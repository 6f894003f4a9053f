package jwks

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestFetchSpans: every remote fetch records a span with the provider
// and the fetch's result; a failure is the span's error.
func TestFetchSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	srv.mu.Lock()
	srv.etag = `"v1"`
	srv.mu.Unlock()
	env := newTestSource(t, Options{JWKSURI: srv.URL, Tracer: tp.Tracer("test")})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.etag = ""
	srv.mu.Unlock()
	srv.fail(http.StatusInternalServerError)
	if err := env.src.Refresh(t.Context()); err == nil {
		t.Fatal("a failing endpoint refreshed")
	}
	spans := exp.GetSpans()
	want := []string{resultSuccess, resultNotModified, resultError}
	if len(spans) != len(want) {
		t.Fatalf("%d spans, want %d", len(spans), len(want))
	}
	for i, s := range spans {
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if s.Name != spanFetch || attrs["jwks.result"] != want[i] || attrs["jwt_authz.provider"] != env.src.opts.Provider || attrs["jwks.forced"] != "true" {
			t.Errorf("span %d: %s %v", i, s.Name, attrs)
		}
		if (s.Status.Code == codes.Error) != (want[i] == resultError) {
			t.Errorf("span %d: status %v", i, s.Status)
		}
	}
}
