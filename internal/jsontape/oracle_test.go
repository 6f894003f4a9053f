package jsontape

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The reference behaviour the tape must reproduce: the payload decoded by
// encoding/json with UseNumber, claims looked up as token.Lookup does, and
// converted to protobuf as the ext_authz response does.

// typical is a representative JWT payload.
const typical = `{"iss":"https://bench.example/","sub":"user-123","aud":"bench","exp":1764300000,"iat":1764200000,"jti":"0f8c2f5e-9a1b-4c1e-8d7a-2b3c4d5e6f70","scope":"read write","roles":["a","b"],"ctx":{"tenant":"t1","n":3}}`

// oracleDecode decodes doc as the server decodes a token payload.
func oracleDecode(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// oracleLookup is token.Lookup.
func oracleLookup(payload map[string]any, path string) (any, bool) {
	if v, ok := payload[path]; ok {
		return v, true
	}
	cur := any(payload)
	for path != "" {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		var part string
		if i := strings.IndexByte(path, '.'); i >= 0 {
			part, path = path[:i], path[i+1:]
		} else {
			part, path = path, ""
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// oracleValue is the ext_authz converter from decoded JSON to protobuf.
func oracleValue(v any) *structpb.Value {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue()
	case string:
		return structpb.NewStringValue(x)
	case bool:
		return structpb.NewBoolValue(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return structpb.NewStringValue(x.String())
		}
		return structpb.NewNumberValue(f)
	case []any:
		list := &structpb.ListValue{Values: make([]*structpb.Value, 0, len(x))}
		for _, e := range x {
			list.Values = append(list.Values, oracleValue(e))
		}
		return structpb.NewListValue(list)
	case map[string]any:
		s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(x))}
		for k, e := range x {
			s.Fields[k] = oracleValue(e)
		}
		return structpb.NewStructValue(s)
	}
	return structpb.NewNullValue()
}

// checkValue fails unless v renders to the same protobuf Value as the
// decoded oracle value want.
func checkValue(t testing.TB, ctx string, v Value, want any) {
	t.Helper()
	var got structpb.Value
	if err := proto.Unmarshal(v.AppendValue(nil), &got); err != nil {
		t.Fatalf("%s: unmarshal Value: %v", ctx, err)
	}
	if w := oracleValue(want); !proto.Equal(&got, w) {
		t.Fatalf("%s: Value mismatch\n got: %v\nwant: %v", ctx, &got, w)
	}
}

// checkStruct fails unless the object root of doc renders to the oracle's
// Struct.
func checkStruct(t testing.TB, tp *Tape, doc []byte) {
	t.Helper()
	want, err := oracleDecode(doc)
	if err != nil {
		t.Fatalf("oracle decode %q: %v", doc, err)
	}
	m, ok := want.(map[string]any)
	if !ok {
		t.Fatalf("oracle decode %q: not an object", doc)
	}
	out := tp.Root().AppendStruct(nil)
	var got structpb.Struct
	if err := proto.Unmarshal(out, &got); err != nil {
		t.Fatalf("%q: unmarshal Struct: %v", doc, err)
	}
	if w := oracleValue(m).GetStructValue(); !proto.Equal(&got, w) {
		t.Fatalf("%q: Struct mismatch\n got: %v\nwant: %v", doc, &got, w)
	}
}
