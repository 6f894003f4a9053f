package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// A scripted HTTP/2 server, for server behaviour grpc-go does not show:
// malformed frames, odd but legal framing, small windows.

// fakeConn is one connection of a fakeH2 server. Only its goroutine uses
// it until the connection ends.
type fakeConn struct {
	nc     net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	rnd    *rand.Rand

	initWin  int64             // the client's stream window
	bodies   map[uint32][]byte // request bytes of open streams
	unacked  map[uint32]int64  // stream bytes not yet returned by WINDOW_UPDATE
	requests int               // complete requests
	stats    fakeStats
}

// fakeStats is what the server saw of the client.
type fakeStats struct {
	maxOpen      int // streams open at once
	maxData      int // largest DATA frame
	overWindow   int // DATA frames beyond a window the server gave
	pingAcks     int
	settingsAcks int
	resets       map[http2.ErrCode]int
	goaway       bool
}

// fakeH2 serves connections with respond, which is called once per
// complete request (its DATA ended), and hello, called after the server's
// SETTINGS.
type fakeH2 struct {
	settings []http2.Setting
	hello    func(fc *fakeConn)
	respond  func(fc *fakeConn, id uint32)
	// ackData returns request DATA to the client's send windows as it
	// arrives; without it the client stays within the initial windows.
	ackData bool

	mu    sync.Mutex
	stats []fakeStats
	ended chan struct{} // closed when the first connection ends
	wg    sync.WaitGroup
}

// start serves on loopback until the test ends; stats holds the connections'
// figures once they are closed.
func (s *fakeH2) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ended = make(chan struct{})
	s.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(nc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return ln.Addr().String()
}

// allStats waits for the first connection to end and returns what the
// connections that ended saw.
func (s *fakeH2) allStats(t *testing.T) []fakeStats {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the fake server's connection did not end")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *fakeH2) serve(nc net.Conn) {
	defer nc.Close()
	fc := &fakeConn{
		nc: nc, fr: http2.NewFramer(nc, nc), rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)),
		initWin: h2DefaultWindow, bodies: map[uint32][]byte{}, unacked: map[uint32]int64{},
		stats: fakeStats{resets: map[http2.ErrCode]int{}},
	}
	fc.enc = hpack.NewEncoder(&fc.encBuf)
	fc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	defer func() {
		s.mu.Lock()
		s.stats = append(s.stats, fc.stats)
		if len(s.stats) == 1 {
			close(s.ended)
		}
		s.mu.Unlock()
	}()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	if err := fc.fr.WriteSettings(s.settings...); err != nil {
		return
	}
	if s.hello != nil {
		s.hello(fc)
	}
	for {
		f, err := fc.fr.ReadFrame()
		if err != nil {
			return
		}
		if !s.handle(fc, f) {
			return
		}
	}
}

// handle takes one frame from the client; false ends the connection.
func (s *fakeH2) handle(fc *fakeConn, f http2.Frame) bool {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			fc.stats.settingsAcks++
			return true
		}
		if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
			fc.initWin = int64(v)
		}
		return fc.fr.WriteSettingsAck() == nil
	case *http2.MetaHeadersFrame:
		fc.bodies[f.StreamID] = []byte{}
		fc.stats.maxOpen = max(fc.stats.maxOpen, len(fc.bodies))
	case *http2.DataFrame:
		fc.stats.maxData = max(fc.stats.maxData, len(f.Data()))
		fc.unacked[f.StreamID] += int64(f.Length)
		if fc.unacked[f.StreamID] > int64(s.streamWindow()) {
			fc.stats.overWindow++
		}
		if s.ackData && f.Length > 0 {
			fc.unacked[f.StreamID] = 0
			_ = fc.fr.WriteWindowUpdate(0, f.Length)
			_ = fc.fr.WriteWindowUpdate(f.StreamID, f.Length)
		}
		if b, ok := fc.bodies[f.StreamID]; ok {
			fc.bodies[f.StreamID] = append(b, f.Data()...)
		}
		if f.StreamEnded() {
			delete(fc.bodies, f.StreamID)
			fc.requests++
			s.respond(fc, f.StreamID)
		}
	case *http2.PingFrame:
		if f.IsAck() {
			fc.stats.pingAcks++
		}
	case *http2.RSTStreamFrame:
		delete(fc.bodies, f.StreamID)
		fc.stats.resets[f.ErrCode]++
	case *http2.GoAwayFrame:
		fc.stats.goaway = true
		return false
	}
	return true
}

// streamWindow is the send window the server gives each client stream.
func (s *fakeH2) streamWindow() uint32 {
	for _, st := range s.settings {
		if st.ID == http2.SettingInitialWindowSize {
			return st.Val
		}
	}
	return h2DefaultWindow
}

// block HPACK-encodes header fields given as name, value pairs.
func (fc *fakeConn) block(kv ...string) []byte {
	fc.encBuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = fc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(fc.encBuf.Bytes())
}

func (fc *fakeConn) headers(id uint32, end bool, kv ...string) {
	_ = fc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: fc.block(kv...), EndStream: end, EndHeaders: true})
}

var okHeaders = []string{":status", "200", "content-type", "application/grpc"}

// answer sends a complete gRPC response: headers, msg in one DATA frame and
// trailers with grpc-status 0.
func (fc *fakeConn) answer(id uint32, msg []byte) {
	fc.headers(id, false, okHeaders...)
	_ = fc.fr.WriteData(id, false, msg)
	fc.headers(id, true, "grpc-status", "0")
}

// message is a gRPC message of a CheckResponse with code.
func message(code codes.Code) []byte {
	b, err := grpcFrame(&authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code)}})
	if err != nil {
		panic(err)
	}
	return b
}

func TestOpenLoopAgainstOddServers(t *testing.T) {
	allowMsg := message(codes.OK)
	tests := []struct {
		name    string
		server  *fakeH2
		timeout time.Duration
		// want: requests, allowed, errors and the code of every error.
		requests, allowed, errs int64
		code                    string
		// lost: the server ends the connection mid-run. Every request
		// scheduled until the client sees it go fails, and how many that
		// are depends on when the reader runs: requests and errs are the
		// least there can be.
		lost  bool
		check func(t *testing.T, st fakeStats)
	}{
		{
			name: "response split, padded, headers in CONTINUATION frames",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				blk := fc.block(okHeaders...)
				_ = fc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk[:1]})
				_ = fc.fr.WriteContinuation(id, false, blk[1:2])
				_ = fc.fr.WriteContinuation(id, true, blk[2:])
				_ = fc.fr.WriteDataPadded(id, false, allowMsg[:1], make([]byte, 200))
				_ = fc.fr.WriteData(id, false, allowMsg[1:4])
				_ = fc.fr.WriteData(id, false, nil)
				_ = fc.fr.WriteDataPadded(id, false, allowMsg[4:], []byte{0})
				fc.headers(id, true, "grpc-status", "0")
			}},
			requests: 20, allowed: 20,
		},
		{
			name: "Trailers-Only error",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				fc.headers(id, true, ":status", "200", "content-type", "application/grpc", "grpc-status", "7", "grpc-message", "nope")
			}},
			requests: 20, errs: 20, code: "PermissionDenied",
		},
		{
			name: "HTTP 503 without grpc-status",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				fc.headers(id, true, ":status", "503")
			}},
			requests: 20, errs: 20, code: "Unavailable",
		},
		{
			name: "RST_STREAM REFUSED_STREAM",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				_ = fc.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			}},
			requests: 20, errs: 20, code: "Unavailable",
		},
		{
			name: "compressed response",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				fc.answer(id, append([]byte{1}, allowMsg[1:]...))
			}},
			requests: 20, errs: 20, code: "Internal",
			check: func(t *testing.T, st fakeStats) {
				if st.resets[http2.ErrCodeCancel] != 20 {
					t.Errorf("resets %v, want 20 CANCEL", st.resets)
				}
			},
		},
		{
			name: "no trailers, a second message, DATA first, headers twice",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				switch id % 8 {
				case 1:
					fc.headers(id, false, okHeaders...)
					_ = fc.fr.WriteData(id, true, allowMsg)
				case 3:
					fc.headers(id, false, okHeaders...)
					_ = fc.fr.WriteData(id, false, append(bytes.Clone(allowMsg), allowMsg...))
				case 5:
					_ = fc.fr.WriteData(id, false, allowMsg)
				case 7:
					fc.headers(id, false, okHeaders...)
					fc.headers(id, false, okHeaders...)
				}
			}},
			requests: 20, errs: 20, code: "Internal",
		},
		{
			name: "frames for streams that do not exist",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				fc.headers(id+100, false, okHeaders...)
				_ = fc.fr.WriteData(id+1000, false, allowMsg)
				_ = fc.fr.WriteRSTStream(id+200, http2.ErrCodeCancel)
				_ = fc.fr.WriteWindowUpdate(id+1002, 10)
				_ = fc.fr.WriteRawFrame(0x77, 0, id, []byte("unknown frame type"))
				fc.answer(id, allowMsg)
			}},
			requests: 20, allowed: 20,
		},
		{
			name:     "no answer: the client times out and resets",
			server:   &fakeH2{respond: func(*fakeConn, uint32) {}},
			timeout:  100 * time.Millisecond,
			requests: 20, errs: 20, code: "DeadlineExceeded",
			check: func(t *testing.T, st fakeStats) {
				if st.resets[http2.ErrCodeCancel] != 20 {
					t.Errorf("resets %v, want 20 CANCEL", st.resets)
				}
			},
		},
		{
			name: "small windows, frames and MAX_CONCURRENT_STREAMS, PING and SETTINGS mid-run",
			server: &fakeH2{
				settings: []http2.Setting{
					{ID: http2.SettingMaxConcurrentStreams, Val: 1},
					{ID: http2.SettingInitialWindowSize, Val: 100},
				},
				ackData: true,
				hello: func(fc *fakeConn) {
					_ = fc.fr.WritePing(false, [8]byte{1, 2, 3})
				},
				respond: func(fc *fakeConn, id uint32) {
					if fc.requests == 10 {
						_ = fc.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
						_ = fc.fr.WritePing(false, [8]byte{4, 5, 6})
					}
					fc.answer(id, allowMsg)
				},
			},
			requests: 20, allowed: 20,
			check: func(t *testing.T, st fakeStats) {
				if st.maxOpen != 1 || st.maxData > 100 || st.overWindow != 0 {
					t.Errorf("%d streams at once, DATA up to %d bytes, %d over the window", st.maxOpen, st.maxData, st.overWindow)
				}
				if st.pingAcks != 2 || st.settingsAcks != 2 {
					t.Errorf("%d PING acks, %d SETTINGS acks, want 2 and 2", st.pingAcks, st.settingsAcks)
				}
			},
		},
		{
			name: "MAX_CONCURRENT_STREAMS 0: requests wait for a stream, then time out",
			server: &fakeH2{
				settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 0}},
				respond:  func(fc *fakeConn, id uint32) { fc.answer(id, allowMsg) },
			},
			timeout:  100 * time.Millisecond,
			requests: 20, errs: 20, code: "DeadlineExceeded",
			check: func(t *testing.T, st fakeStats) {
				if st.maxOpen != 0 {
					t.Errorf("%d streams opened", st.maxOpen)
				}
			},
		},
		{
			name: "send window 0, never updated: requests time out",
			server: &fakeH2{
				settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}},
				respond:  func(fc *fakeConn, id uint32) { fc.answer(id, allowMsg) },
			},
			timeout:  100 * time.Millisecond,
			requests: 20, errs: 20, code: "DeadlineExceeded",
			check: func(t *testing.T, st fakeStats) {
				if st.maxData != 0 || st.resets[http2.ErrCodeCancel] == 0 {
					t.Errorf("DATA of %d bytes sent, resets %v", st.maxData, st.resets)
				}
			},
		},
		{
			name: "GOAWAY: streams above the last one fail, the run ends",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				if id < 9 {
					fc.answer(id, allowMsg)
					return
				}
				_ = fc.fr.WriteGoAway(7, http2.ErrCodeNo, []byte("bye"))
			}},
			requests: 6, allowed: 4, errs: 2, code: "Unavailable", lost: true,
		},
		{
			name: "garbage after the fourth request",
			server: &fakeH2{respond: func(fc *fakeConn, id uint32) {
				if id < 7 {
					fc.answer(id, allowMsg)
					return
				}
				_, _ = fc.nc.Write([]byte("\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")) // WINDOW_UPDATE 0 on the connection
			}},
			requests: 5, allowed: 3, errs: 2, code: "Unavailable", lost: true,
			check: func(t *testing.T, st fakeStats) {
				if !st.goaway {
					t.Error("the client did not report the connection error in a GOAWAY")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := openSpec(tt.server.start(t))
			spec.Rate = 100 // 20 requests in 200ms
			if tt.timeout > 0 {
				spec.Timeout = tt.timeout
			}
			r, _ := runOpenSpec(t, spec, nil)
			wantRequests, wantErrs := tt.requests, tt.errs
			if tt.lost && r.Requests >= tt.requests && r.Requests <= 20 {
				wantRequests, wantErrs = r.Requests, r.Requests-tt.allowed
			}
			if r.Requests != wantRequests || r.Allowed != tt.allowed || r.Errors != wantErrs || (wantErrs > 0 && r.ErrorCodes[tt.code] != wantErrs) {
				t.Fatalf("requests %d allowed %d errors %d codes %v (%s), want %d %d %d %s", r.Requests, r.Allowed, r.Errors, r.ErrorCodes, r.FirstError, tt.requests, tt.allowed, tt.errs, tt.code)
			}
			if tt.check != nil {
				tt.check(t, tt.server.allStats(t)[0])
			}
		})
	}
}

// TestOpenLoopSurvivesRandomFrames answers with random bytes, well-framed or
// not: whatever the server sends, the run ends without a panic, with an
// outcome for every request sent.
func TestOpenLoopSurvivesRandomFrames(t *testing.T) {
	allowMsg := message(codes.OK)
	for seed := range uint64(40) {
		rnd := rand.New(rand.NewPCG(seed, 7))
		s := &fakeH2{respond: func(fc *fakeConn, id uint32) {
			switch rnd.IntN(4) {
			case 0: // a random frame of a known type on this stream or another
				typ := http2.FrameType(rnd.IntN(10))
				payload := make([]byte, rnd.IntN(40))
				for i := range payload {
					payload[i] = byte(rnd.Uint32())
				}
				_ = fc.fr.WriteRawFrame(typ, http2.Flags(rnd.Uint32()), uint32(rnd.IntN(3))*id, payload)
			case 1: // random bytes
				b := make([]byte, rnd.IntN(30))
				for i := range b {
					b[i] = byte(rnd.Uint32())
				}
				_, _ = fc.nc.Write(b)
			default:
				fc.answer(id, allowMsg)
			}
		}}
		spec := openSpec(s.start(t))
		spec.Rate, spec.Timeout = 200, 200*time.Millisecond
		r, _, err := openRunOnce(t.Context(), spec, nil)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if r.Requests == 0 || r.Requests > 40 || r.Allowed+r.Denied+r.Errors != r.Requests {
			t.Fatalf("seed %d: requests %d allowed %d denied %d errors %d", seed, r.Requests, r.Allowed, r.Denied, r.Errors)
		}
		if r.Errors > 0 && r.FirstError == "" || strings.Contains(r.FirstError, "panic") {
			t.Fatalf("seed %d: first error %q", seed, r.FirstError)
		}
	}
}

// TestDialRefusesOtherServers: a server that does not start with HTTP/2
// SETTINGS fails the dial, at once.
func TestDialRefusesOtherServers(t *testing.T) {
	replies := map[string]string{
		"HTTP/1.1":        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
		"PING first":      "\x00\x00\x08\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		"hang up at once": "",
	}
	for name, reply := range replies {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(nc, reply)
			nc.Close()
		}()
		start := time.Now()
		_, err = dialH2Conns(t.Context(), newH2Options(ln.Addr().String(), 5*time.Second, false), 1)
		ln.Close()
		if err == nil || time.Since(start) > time.Second {
			t.Fatalf("%s: dial = %v after %v, want an error at once", name, err, time.Since(start))
		}
	}
}
