package main

import (
	"errors"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// statusCodec is the load client's codec: requests are marshalled as
// gRPC's proto codec does, or sent as they are when they were marshalled
// before the run (premarshalled), but of a CheckResponse only the status
// code is read, which is all the client checks. The client shares the
// machine's cores with the server under test; decoding the rest (a
// verified token's claims as dynamic_metadata, several hundred bytes of
// nested Structs) would take CPU from the server, more for a server that
// sends more. full (--decode-full) restores the full decoding.
type statusCodec struct {
	proto encoding.CodecV2
	full  bool
}

func newStatusCodec(full bool) statusCodec {
	return statusCodec{proto: encoding.GetCodecV2(protoenc.Name), full: full}
}

// premarshalled is a request message marshalled once, before the run.
type premarshalled []byte

func (c statusCodec) Name() string { return protoenc.Name }

func (c statusCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(premarshalled); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.proto.Marshal(v)
}

func (c statusCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*authv3.CheckResponse)
	if !ok || c.full {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.Materialize()
	code, found, err := checkResponseCode(buf)
	if err != nil {
		return err
	}
	if found {
		resp.Status = &rpcstatus.Status{Code: code}
	}
	return nil
}

var errResponseWire = errors.New("malformed CheckResponse")

// checkResponseCode reads CheckResponse.status.code (fields 1 and 1); of
// repeated fields the last counts, as in protobuf.
func checkResponseCode(b []byte) (code int32, found bool, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false, errResponseWire
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return 0, false, errResponseWire
			}
			b = b[n:]
			continue
		}
		st, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, false, errResponseWire
		}
		b = b[n:]
		found = true
		for len(st) > 0 {
			num, typ, n := protowire.ConsumeTag(st)
			if n < 0 {
				return 0, false, errResponseWire
			}
			st = st[n:]
			if num == 1 && typ == protowire.VarintType {
				v, n := protowire.ConsumeVarint(st)
				if n < 0 {
					return 0, false, errResponseWire
				}
				code, st = int32(v), st[n:]
				continue
			}
			if n = protowire.ConsumeFieldValue(num, typ, st); n < 0 {
				return 0, false, errResponseWire
			}
			st = st[n:]
		}
	}
	return code, found, nil
}
