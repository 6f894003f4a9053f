package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestGRPCTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Second, "5000m"},
		{100 * time.Millisecond, "100m"},
		{1500 * time.Microsecond, "1500000n"},
		{time.Second + time.Nanosecond, "1000001u"},
		{time.Nanosecond, "1n"},
		{99_999_999 * time.Millisecond, "99999999m"},
		{100_000_000 * time.Millisecond, "100000S"},
		{100_000_000*time.Millisecond + 1, "100001S"}, // rounded up, never shorter
		{time.Duration(1<<63 - 1), "2562048H"},
		{0, "0n"},
	}
	for _, tt := range tests {
		got := grpcTimeout(tt.d)
		if got != tt.want {
			t.Errorf("grpcTimeout(%v) = %q, want %q", tt.d, got, tt.want)
		}
		if digits := strings.TrimRight(got, "numSMH"); len(digits) > 8 {
			t.Errorf("grpcTimeout(%v) = %q: more than 8 digits", tt.d, got)
		}
	}
}

func TestRequestHeaderBlockIsStateless(t *testing.T) {
	block := requestHeaderBlock("127.0.0.1:9001", 5*time.Second)
	want := []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: checkMethodPath},
		{Name: ":authority", Value: "127.0.0.1:9001"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: "5000m"},
	}
	dec := hpack.NewDecoder(4096, nil)
	// The same bytes, decoded again and again by one decoder, must give the
	// same fields: nothing in them depends on the decoder's table.
	for i := range 3 {
		got, err := dec.DecodeFull(block)
		if err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("decode %d = %v, want %v", i, got, want)
		}
	}
	// And they left the decoder's dynamic table empty: its first entry
	// (index 62) does not exist.
	if _, err := dec.DecodeFull([]byte{0x80 | 62}); err == nil {
		t.Fatal("the header block added entries to the dynamic table")
	}
}

func TestGRPCFrame(t *testing.T) {
	req := newCheckRequest("tok", 7, time.Unix(1, 0))
	b, err := grpcFrame(req)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
		t.Fatalf("prefix % x for a %d-byte body", b[:5], len(b)-5)
	}
	var got authv3.CheckRequest
	if err := proto.Unmarshal(b[5:], &got); err != nil || !proto.Equal(&got, req) {
		t.Fatalf("body does not round-trip: %v", err)
	}
}

func TestWireRequestsFollowThePick(t *testing.T) {
	spec := loadSpec{Tokens: tokens(3), Each: true, Wrap: true}
	src, _ := prepareRequests(&spec)
	w, err := newWireRequests(src)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		msg, ok := w.pick()
		if !ok || !bytes.Equal(msg, w.msgs[i%2]) {
			t.Fatalf("pick %d: not request %d", i, i%2)
		}
	}
	if src.issued() != 5 {
		t.Fatalf("issued %d, want 5", src.issued())
	}
}

func TestStreamTable(t *testing.T) {
	tab := newStreamTable()
	var ids []uint32
	for range 200 {
		ids = append(ids, tab.open().id)
	}
	if ids[0] != 1 || ids[199] != 399 {
		t.Fatalf("ids %d..%d, want 1..399", ids[0], ids[199])
	}
	// End every other stream, and the first ones, out of order.
	for _, id := range ids {
		if id%4 == 3 || id < 50 {
			tab.end(tab.get(id))
		}
	}
	if tab.get(2) != nil || tab.get(3) != nil || tab.get(401) != nil || tab.get(0) != nil {
		t.Fatal("get found a stream that is not live")
	}
	if s := tab.get(53); s == nil || s.id != 53 {
		t.Fatalf("get(53) = %+v", s)
	}
	if f := tab.front(); f == nil || f.id != 53 {
		t.Fatalf("front = %+v, want 53", f)
	}
	live, n := tab.live, 0
	tab.forEach(func(s *h2Stream) {
		n++
		tab.end(s) // ending inside forEach is allowed
	})
	if live != 87 || n != live || tab.live != 0 || tab.front() != nil {
		t.Fatalf("%d live, forEach saw %d, %d left live", live, n, tab.live)
	}
	// Many more streams, ending in order: the window slides instead of
	// growing.
	for range 10_000 {
		s := tab.open()
		tab.end(s)
	}
	if len(tab.buf) > 1024 {
		t.Fatalf("table grew to %d entries for one live stream at a time", len(tab.buf))
	}
	if s := tab.open(); s.id != 401+2*10_000 {
		t.Fatalf("next id %d", s.id)
	}
	tab.next = maxStreamID + 2
	if !tab.exhausted() {
		t.Fatal("not exhausted past the last stream ID")
	}
}

func TestResponseErrors(t *testing.T) {
	if got := decodeGRPCMessage("no%20way%3A 100%25 %zz%"); got != "no way: 100% %zz%" {
		t.Fatalf("decodeGRPCMessage = %q", got)
	}
	codesFor := map[http2.ErrCode]codes.Code{
		http2.ErrCodeRefusedStream: codes.Unavailable, http2.ErrCodeCancel: codes.Canceled,
		http2.ErrCodeEnhanceYourCalm: codes.ResourceExhausted, http2.ErrCodeProtocol: codes.Internal,
		http2.ErrCode(0x99): codes.Internal,
	}
	for h2, want := range codesFor {
		if got := status.Code(resetError(h2)); got != want {
			t.Errorf("RST_STREAM %v: %v, want %v", h2, got, want)
		}
	}
	httpCodes := map[string]codes.Code{
		"200": codes.OK, "503": codes.Unavailable, "404": codes.Unimplemented, "418": codes.Unknown, "": codes.Internal, "x": codes.Internal,
	}
	for s, want := range httpCodes {
		if got := status.Code(httpStatusError(s)); got != want {
			t.Errorf(":status %q: %v, want %v", s, got, want)
		}
	}
}

func TestTakeMessage(t *testing.T) {
	resp := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)}}
	msg, err := grpcFrame(resp)
	if err != nil {
		t.Fatal(err)
	}
	c := &h2Conn{opts: &h2Options{}}
	tests := []struct {
		name   string
		chunks [][]byte
		err    error
		code   codes.Code // of err, when not a sentinel
	}{
		{name: "one frame", chunks: [][]byte{msg}},
		{name: "prefix split", chunks: [][]byte{msg[:1], msg[1:3], msg[3:]}},
		{name: "body split", chunks: [][]byte{msg[:7], msg[7:]}},
		{name: "two messages", chunks: [][]byte{append(slices.Clone(msg), msg...)}, err: errExtraMessage},
		{name: "a second message later", chunks: [][]byte{msg, msg[:2]}, err: errExtraMessage},
		{name: "compressed", chunks: [][]byte{append([]byte{1}, msg[1:]...)}, err: errCompressedResponse},
		{name: "too large", chunks: [][]byte{{0, 0xff, 0, 0, 0}}, code: codes.ResourceExhausted},
		{name: "malformed", chunks: [][]byte{{0, 0, 0, 0, 2, 0x0a, 0x05}}, code: codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &h2Stream{}
			var err error
			for _, ch := range tt.chunks {
				if err = c.takeMessage(st, ch); err != nil {
					break
				}
			}
			switch {
			case tt.err != nil || tt.code != codes.OK:
				if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) || (tt.code != codes.OK && status.Code(err) != tt.code) {
					t.Fatalf("err = %v, want %v / %v", err, tt.err, tt.code)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case !st.gotMsg || !st.result.hasStatus || st.result.code != int32(codes.PermissionDenied):
				t.Fatalf("result = %+v, got message %v", st.result, st.gotMsg)
			}
		})
	}
}
