package jsontape

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

func BenchmarkParse(b *testing.B) {
	doc := []byte(typical)
	var tp Tape
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := tp.Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendStruct(b *testing.B) {
	var tp Tape
	if err := tp.Parse([]byte(typical)); err != nil {
		b.Fatal(err)
	}
	root := tp.Root()
	dst := root.AppendStruct(nil)
	b.ReportAllocs()
	for b.Loop() {
		dst = root.AppendStruct(dst[:0])
	}
}

func BenchmarkLookup(b *testing.B) {
	var tp Tape
	if err := tp.Parse([]byte(typical)); err != nil {
		b.Fatal(err)
	}
	root := tp.Root()
	b.ReportAllocs()
	for b.Loop() {
		v, _ := root.Lookup("jti")
		if s, ok := v.String(); !ok || len(s) == 0 {
			b.Fatal("jti")
		}
		if v, ok := root.Lookup("ctx.tenant"); !ok || v.Kind() != String {
			b.Fatal("ctx.tenant")
		}
	}
}

// BenchmarkBaseline measures, for comparison, the path the tape replaces:
// decoding the payload with encoding/json, converting it to a
// structpb.Struct and marshaling that.
func BenchmarkBaseline(b *testing.B) {
	doc := []byte(typical)
	b.ReportAllocs()
	for b.Loop() {
		v, err := oracleDecode(doc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(oracleValue(v).GetStructValue()); err != nil {
			b.Fatal(err)
		}
	}
}
