package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// What goes on the wire for the open-loop driver: requests marshalled once,
// the request header block, and how responses and HTTP/2 errors read as
// gRPC outcomes.

// checkMethodPath is the HTTP/2 :path of the ext_authz Check method.
const checkMethodPath = "/envoy.service.auth.v3.Authorization/Check"

// grpcPrefixLen is the length of the prefix of a gRPC message: a
// compression flag and a big-endian uint32 length.
const grpcPrefixLen = 5

// maxResponseSize bounds a response message, as grpc-go's client default
// (4 MiB) does.
const maxResponseSize = 4 << 20

// grpcFrame returns m marshalled as a gRPC message: the uncompressed flag,
// the length, then the protobuf bytes.
func grpcFrame(m proto.Message) ([]byte, error) {
	size := proto.Size(m)
	buf := make([]byte, grpcPrefixLen, grpcPrefixLen+size)
	buf, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, m)
	if err != nil {
		return nil, err
	}
	n := len(buf) - grpcPrefixLen
	if uint64(n) > uint64(^uint32(0)) {
		return nil, fmt.Errorf("message of %d bytes is too large for gRPC", n)
	}
	binary.BigEndian.PutUint32(buf[1:grpcPrefixLen], uint32(n))
	return buf, nil
}

// wireRequests are a run's requests as gRPC messages, marshalled once before
// the run, in the order of the requestSource they come from.
type wireRequests struct {
	src  *requestSource
	msgs [][]byte
}

// newWireRequests marshals every request of src.
func newWireRequests(src *requestSource) (*wireRequests, error) {
	msgs := make([][]byte, len(src.reqs))
	for i, r := range src.reqs {
		b, err := grpcFrame(r)
		if err != nil {
			return nil, fmt.Errorf("marshal request %d: %w", i, err)
		}
		msgs[i] = b
	}
	return &wireRequests{src: src, msgs: msgs}, nil
}

// pick returns the message to send next, as requestSource.pick would pick
// its request.
func (w *wireRequests) pick() ([]byte, bool) {
	i, ok := w.src.pickIndex()
	if !ok {
		return nil, false
	}
	return w.msgs[i], true
}

// requestHeaderBlock returns the HPACK block of every Check request to
// authority. It is stateless, so that one copy serves every stream: the
// encoder's dynamic table is sized 0, so the block starts with a table size
// update to 0 and holds only static-table references and literals without
// indexing.
func requestHeaderBlock(authority string, timeout time.Duration) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.SetMaxDynamicTableSizeLimit(0)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: checkMethodPath},
		{Name: ":authority", Value: authority},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: grpcTimeout(timeout)},
	} {
		_ = enc.WriteField(f) // a bytes.Buffer does not fail
	}
	return buf.Bytes()
}

// grpcTimeoutMaxValue is the largest value of a grpc-timeout header: at
// most 8 digits.
const grpcTimeoutMaxValue = 99_999_999

// grpcTimeout encodes d as a grpc-timeout value: whole milliseconds when d
// is one ("5000m"), else the finest unit in which d, rounded up, has at most
// 8 digits.
func grpcTimeout(d time.Duration) string {
	if d <= 0 {
		return "0n"
	}
	if d%time.Millisecond == 0 && d/time.Millisecond <= grpcTimeoutMaxValue {
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "m"
	}
	units := []struct {
		d    time.Duration
		name string
	}{
		{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"},
		{time.Second, "S"}, {time.Minute, "M"},
	}
	for _, u := range units {
		if v := ceilDiv(d, u.d); v <= grpcTimeoutMaxValue {
			return strconv.FormatInt(v, 10) + u.name
		}
	}
	return strconv.FormatInt(ceilDiv(d, time.Hour), 10) + "H"
}

// ceilDiv returns d/unit rounded up, for positive d.
func ceilDiv(d, unit time.Duration) int64 {
	v := d / unit
	if d%unit != 0 {
		v++
	}
	return int64(v)
}

// respResult is what a response message said. By default only the
// CheckResponse status code is read (code, hasStatus); with --decode-full
// the whole message is decoded into full.
type respResult struct {
	code      int32
	hasStatus bool
	full      *authv3.CheckResponse
}

// decodeCheckResponse decodes a CheckResponse message body.
func decodeCheckResponse(b []byte, full bool) (respResult, error) {
	if full {
		resp := new(authv3.CheckResponse)
		if err := proto.Unmarshal(b, resp); err != nil {
			return respResult{}, status.Errorf(codes.Internal, "failed to unmarshal the response: %v", err)
		}
		return respResult{full: resp}, nil
	}
	code, found, err := checkResponseCode(b)
	if err != nil {
		return respResult{}, status.Errorf(codes.Internal, "failed to unmarshal the response: %v", err)
	}
	return respResult{code: code, hasStatus: found}, nil
}

// Errors of a response that breaks the gRPC protocol.
var (
	errCompressedResponse = status.Error(codes.Internal, "compressed response, but no compression was offered")
	errExtraMessage       = status.Error(codes.Internal, "more than one response message for a unary call")
	errNoMessage          = status.Error(codes.Internal, "no response message for a unary call")
	errNoTrailers         = status.Error(codes.Internal, "server closed the stream without sending trailers")
	errDataBeforeHeaders  = status.Error(codes.Internal, "response DATA before HEADERS")
	errSecondHeaders      = status.Error(codes.Internal, "second response HEADERS without END_STREAM")
	errHeadersTooLarge    = status.Error(codes.ResourceExhausted, "response header list too large")
	errDeadline           = status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	errNoStream           = status.Error(codes.DeadlineExceeded, "context deadline exceeded waiting for a stream (MAX_CONCURRENT_STREAMS or flow control)")
)

// responseTooLarge is the error for a response message of size bytes.
func responseTooLarge(size uint32) error {
	return status.Errorf(codes.ResourceExhausted, "response message of %d bytes exceeds the limit of %d", size, maxResponseSize)
}

// responseHeadersError checks the response HEADERS of a stream (not
// trailers): HTTP status 200 and a gRPC content type.
func responseHeadersError(mh *http2.MetaHeadersFrame) error {
	if err := httpStatusError(mh.PseudoValue("status")); err != nil {
		return err
	}
	ct := headerValue(mh, "content-type")
	if ct != "application/grpc" && !strings.HasPrefix(ct, "application/grpc+") && !strings.HasPrefix(ct, "application/grpc;") {
		return status.Errorf(codes.Internal, "response content-type %q is not gRPC", ct)
	}
	return nil
}

// trailersError returns the outcome that trailers (or a Trailers-Only
// response, when headersSeen is false) give the call: nil for grpc-status
// 0, a status error with the server's code and message otherwise.
func trailersError(mh *http2.MetaHeadersFrame, headersSeen bool) error {
	gs := headerValue(mh, "grpc-status")
	if gs == "" {
		if !headersSeen {
			if err := httpStatusError(mh.PseudoValue("status")); err != nil {
				return err
			}
		}
		return status.Error(codes.Internal, "response trailers without grpc-status")
	}
	n, err := strconv.ParseUint(gs, 10, 32)
	if err != nil {
		return status.Errorf(codes.Internal, "malformed grpc-status %q", gs)
	}
	if n == 0 {
		return nil
	}
	return status.Error(codes.Code(n), decodeGRPCMessage(headerValue(mh, "grpc-message")))
}

// httpStatusError maps a response :status other than 200 to an error as
// grpc-go does; an absent or malformed :status is an error too.
func httpStatusError(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return status.Errorf(codes.Internal, "malformed :status %q", s)
	}
	if n == http.StatusOK {
		return nil
	}
	code := codes.Unknown
	switch n {
	case http.StatusBadRequest:
		code = codes.Internal
	case http.StatusUnauthorized:
		code = codes.Unauthenticated
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusNotFound:
		code = codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		code = codes.Unavailable
	}
	return status.Errorf(code, "unexpected HTTP status code %d (%s)", n, http.StatusText(n))
}

// headerValue returns the value of the last regular field named name.
func headerValue(mh *http2.MetaHeadersFrame, name string) string {
	var v string
	for _, f := range mh.RegularFields() {
		if f.Name == name {
			v = f.Value
		}
	}
	return v
}

// decodeGRPCMessage undoes the percent-encoding of grpc-message; a
// malformed escape is kept as it is.
func decodeGRPCMessage(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// resetError is the error of a stream the server reset, with the code
// grpc-go gives each HTTP/2 error code.
func resetError(c http2.ErrCode) error {
	return status.Errorf(h2ErrorCode(c), "stream terminated by RST_STREAM with error code: %v", c)
}

// h2ErrorCode maps an HTTP/2 error code to a gRPC code as grpc-go does.
func h2ErrorCode(c http2.ErrCode) codes.Code {
	switch c {
	case http2.ErrCodeFlowControl, http2.ErrCodeEnhanceYourCalm:
		return codes.ResourceExhausted
	case http2.ErrCodeRefusedStream:
		return codes.Unavailable
	case http2.ErrCodeCancel:
		return codes.Canceled
	case http2.ErrCodeInadequateSecurity:
		return codes.PermissionDenied
	}
	return codes.Internal
}
