package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// heldJWKS serves a JWKS; once hold is called, every further request waits
// until release, and entered receives one value per waiting request.
type heldJWKS struct {
	*httptest.Server
	mu      sync.Mutex
	held    bool
	release chan struct{}
	entered chan struct{}
}

func newHeldJWKS(t *testing.T, keys ...*testkit.Key) *heldJWKS {
	body := testkit.JWKS(t, keys...)
	h := &heldJWKS{release: make(chan struct{}), entered: make(chan struct{}, 16)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		held := h.held
		h.mu.Unlock()
		if held {
			h.entered <- struct{}{}
			select {
			case <-h.release:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(h.Close)
	t.Cleanup(h.unhold)
	return h
}

func (h *heldJWKS) hold() {
	h.mu.Lock()
	h.held = true
	h.mu.Unlock()
}

func (h *heldJWKS) unhold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held {
		h.held = false
		close(h.release)
	}
}

// TestGRPCStreamsCappedPerConnection opens 2,000 Check streams at once on
// one HTTP/2 connection, ignoring the server's advertised limit as a
// hostile client would. Every Check waits on a held JWKS refetch (its kid
// is unknown), so none finishes before the test lets it: the server
// accepts exactly grpc.max_concurrent_streams of them and refuses the rest
// with REFUSED_STREAM.
func TestGRPCStreamsCappedPerConnection(t *testing.T) {
	const limit, streams = 100, 2000
	k := testkit.NewKey(t, "ES256", "k1")
	js := newHeldJWKS(t, k)
	cfg := strings.Replace(corpConfig(js.URL, ""), "jwks_min_refresh_interval: 200ms", "jwks_min_refresh_interval: 1ns", 1)
	cfg += fmt.Sprintf("grpc:\n  max_concurrent_streams: %d\n", limit)
	in := start(t, cfg, "")
	eventually(t, "ready", in.grpcServing)
	js.hold()

	conn, err := net.Dial("tcp", in.grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second)) // a bound against hanging, not a measurement
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}

	// The reader counts what the server does with each stream.
	type outcome struct {
		advertised      uint32
		refused, served int
		err             error
	}
	results := make(chan outcome, 1)
	refusedAll := make(chan struct{})
	go func() {
		var o outcome
		defer func() { results <- o }()
		for o.refused+o.served < streams {
			f, err := fr.ReadFrame()
			if err != nil {
				o.err = err
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok && !f.IsAck() {
					o.advertised = v
				}
			case *http2.RSTStreamFrame:
				if f.ErrCode != http2.ErrCodeRefusedStream {
					o.err = fmt.Errorf("stream %d reset with %v", f.StreamID, f.ErrCode)
					return
				}
				o.refused++
				if o.refused == streams-limit {
					close(refusedAll)
				}
			case *http2.MetaHeadersFrame:
				if f.StreamEnded() {
					o.served++
				}
			case *http2.GoAwayFrame:
				o.err = fmt.Errorf("GOAWAY %v", f.ErrCode)
				return
			}
		}
	}()

	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/envoy.service.auth.v3.Authorization/Check"},
		{":authority", in.grpcAddr}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	tok := testkit.Sign(t, k, testkit.Claims(corpIss, "alice", "orders-api"), map[string]any{"kid": "not-yet-published"})
	body, err := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Host: "api.example.com",
			Headers: map[string]string{"authorization": "Bearer " + tok}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
	msg = append(msg, body...)
	for i := range streams {
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(id, true, msg); err != nil {
			t.Fatal(err)
		}
	}

	// Every stream over the limit is refused while the accepted ones wait
	// on the held fetch; only then is the fetch let go.
	select {
	case <-refusedAll:
	case o := <-results:
		t.Fatalf("before the refusals were complete: %+v", o)
	}
	<-js.entered
	js.unhold()
	o := <-results
	if o.err != nil {
		t.Fatalf("%+v", o)
	}
	if o.advertised != limit || o.refused != streams-limit || o.served != limit {
		t.Fatalf("advertised %d, refused %d, served %d; want %d, %d, %d", o.advertised, o.refused, o.served, limit, streams-limit, limit)
	}
}

// TestGRPCStreamCapQueuesConformingClients: a client that honours the
// advertised limit, as Envoy and grpc-go do, gets every one of 500
// concurrent Checks answered on one connection; the excess waits on the
// client's side instead of failing.
func TestGRPCStreamCapQueuesConformingClients(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k)
	in := start(t, corpConfig(js.URL, "grpc:\n  max_concurrent_streams: 10\n"), "")
	eventually(t, "ready", in.grpcServing)
	tok := corpToken(t, k)
	var wg sync.WaitGroup
	errs := make(chan string, 500)
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := reasonOf(in.check(tok, "/")); r != "ok" {
				errs <- r
			}
		}()
	}
	wg.Wait()
	close(errs)
	for r := range errs {
		t.Fatalf("a queued Check answered %s", r)
	}
}
