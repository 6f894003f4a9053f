package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestGRPCServerFixedWindows speaks HTTP/2 to the gRPC listener directly:
// the server advertises the fixed stream window, and answers a series of
// Checks, one at a time as a quiet Envoy sends them, without sending a
// single PING. With grpc-go's default dynamic windows, it pings to
// estimate the bandwidth-delay product after nearly every request.
func TestGRPCServerFixedWindows(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k)
	in := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "ready", in.grpcServing)

	conn, err := net.Dial("tcp", in.grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}

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
	headerBlock := bytes.Clone(hdr.Bytes())
	body, err := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Host: "api.example.com",
			Headers: map[string]string{"authorization": "Bearer " + corpToken(t, k)}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
	msg = append(msg, body...)

	window, pings := uint32(0), 0
	const checks = 50
	for i := range checks {
		stream := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: headerBlock, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(stream, true, msg); err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("check %d: %v", i, err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
						window = v
					}
					if err := fr.WriteSettingsAck(); err != nil {
						t.Fatal(err)
					}
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					pings++
					if err := fr.WritePing(true, f.Data); err != nil {
						t.Fatal(err)
					}
				}
			case *http2.MetaHeadersFrame:
				if f.StreamID == stream && f.StreamEnded() {
					if st := f.PseudoValue("status"); st != "" && st != "200" {
						t.Fatalf("check %d: HTTP status %s", i, st)
					}
					for _, hf := range f.RegularFields() {
						if hf.Name == "grpc-status" && hf.Value != "0" {
							t.Fatalf("check %d: grpc-status %s", i, hf.Value)
						}
					}
					done = true
				}
			case *http2.GoAwayFrame:
				t.Fatalf("check %d: GOAWAY %v", i, f.ErrCode)
			}
		}
		// Space the Checks out, as requests at a steady rate are.
		time.Sleep(time.Millisecond)
	}
	if window != serverStreamWindow {
		t.Errorf("server's initial stream window = %d, want %d", window, serverStreamWindow)
	}
	if pings != 0 {
		t.Errorf("server sent %d PINGs over %d Checks; bandwidth-delay estimation is on", pings, checks)
	}
}
