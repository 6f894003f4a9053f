package token

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/jwt-authz/jwt-authz/jwks"
)

// edVector is one Ed25519 verification case from the public vector files.
type edVector struct {
	name          string
	pub, msg, sig []byte
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func readGzipJSON(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ed25519", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// edVectors loads the four public vector sets of testdata/ed25519.
func edVectors(t testing.TB) []edVector {
	var out []edVector

	var speccheck []struct {
		Message   string `json:"message"`
		PubKey    string `json:"pub_key"`
		Signature string `json:"signature"`
	}
	readGzipJSON(t, "speccheck_cases.json.gz", &speccheck)
	for i, c := range speccheck {
		out = append(out, edVector{"speccheck " + strconv.Itoa(i), mustHex(t, c.PubKey), mustHex(t, c.Message), mustHex(t, c.Signature)})
	}

	var zip215 [][2]string
	readGzipJSON(t, "zip215.json.gz", &zip215)
	for i, c := range zip215 {
		out = append(out, edVector{"zip215 " + strconv.Itoa(i), mustHex(t, c[0]), []byte("Zcash"), mustHex(t, c[1])})
	}

	var cctv []struct{ A, R, S, M string }
	readGzipJSON(t, "ed25519vectors.json.gz", &cctv)
	for i, c := range cctv {
		sig := append(mustHex(t, c.R), mustHex(t, c.S)...)
		out = append(out, edVector{"cctv " + strconv.Itoa(i), mustHex(t, c.A), []byte(c.M), sig})
	}

	var wycheproof struct {
		TestGroups []struct {
			Key   struct{ Pk string }
			Tests []struct {
				TcID     int `json:"tcId"`
				Msg, Sig string
			}
		}
	}
	readGzipJSON(t, "eddsa_test.json.gz", &wycheproof)
	for _, g := range wycheproof.TestGroups {
		for _, c := range g.Tests {
			out = append(out, edVector{"wycheproof " + strconv.Itoa(c.TcID), mustHex(t, g.Key.Pk), mustHex(t, c.Msg), mustHex(t, c.Sig)})
		}
	}
	return out
}

// signedEd25519 is a new key's public half and its signature over msg.
func signedEd25519(t testing.TB, msg []byte) (ed25519.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, ed25519.Sign(priv, msg)
}

// jwksVerify verifies through a JWKS key the way a Check does, and reports
// whether the prepared point was used.
func jwksVerify(pub, msg, sig []byte) (ok, prepared bool) {
	key := &jwks.Key{Public: ed25519.PublicKey(pub)}
	return EdDSA.verifyKey(key, msg, sig), key.Ed25519Expanded() != nil
}

// The prepared verification gives crypto/ed25519's answer on every public
// edge-case vector: small-order and mixed-order A and R, non-canonical
// encodings, S at and above the group order, cofactored-only signatures.
func TestEd25519VerifyMatchesStdlib(t *testing.T) {
	vectors := edVectors(t)
	var accepted, rejected, unprepared int
	for _, v := range vectors {
		if len(v.pub) != ed25519.PublicKeySize {
			t.Fatalf("%s: %d-byte public key", v.name, len(v.pub))
		}
		want := ed25519.Verify(ed25519.PublicKey(v.pub), v.msg, v.sig)
		got, prepared := jwksVerify(v.pub, v.msg, v.sig)
		if got != want {
			t.Errorf("%s: prepared %v, crypto/ed25519 %v", v.name, got, want)
		}
		switch {
		case !prepared:
			unprepared++
		case want:
			accepted++
		default:
			rejected++
		}
	}
	t.Logf("%d vectors: %d accepted and %d rejected on the prepared path, %d keys off the curve", len(vectors), accepted, rejected, unprepared)
	// The vector sets hold over a thousand cases, hundreds of each outcome;
	// fewer means a file was not read.
	if len(vectors) < 1100 || accepted < 250 || rejected < 750 {
		t.Fatalf("vector sets incomplete: %d vectors, %d accepted, %d rejected, %d unprepared", len(vectors), accepted, rejected, unprepared)
	}
}

// Every single-bit change of a valid signature, message or key gets
// crypto/ed25519's answer.
func TestEd25519VerifyBitFlipsMatchStdlib(t *testing.T) {
	msg := []byte("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0")
	pub, sig := signedEd25519(t, msg)
	if ok, prepared := jwksVerify(pub, msg, sig); !ok || !prepared {
		t.Fatalf("valid signature: ok %v, prepared %v", ok, prepared)
	}
	check := func(what string, p, m, s []byte) {
		t.Helper()
		want := ed25519.Verify(p, m, s)
		if got, _ := jwksVerify(p, m, s); got != want {
			t.Errorf("%s: prepared %v, crypto/ed25519 %v", what, got, want)
		}
	}
	for i := range len(sig) * 8 {
		check("signature bit "+strconv.Itoa(i), pub, msg, flipBit(sig, i))
	}
	for i := range len(msg) * 8 {
		check("message bit "+strconv.Itoa(i), pub, flipBit(msg, i), sig)
	}
	for i := range len(pub) * 8 {
		check("key bit "+strconv.Itoa(i), flipBit(pub, i), msg, sig)
	}
	for _, s := range [][]byte{nil, sig[:63], append(append([]byte(nil), sig...), 0), make([]byte, 64)} {
		check("signature of "+strconv.Itoa(len(s))+" bytes", pub, msg, s)
	}
}

func flipBit(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i/8] ^= 1 << (i % 8)
	return c
}

// Keys that are not Ed25519 points get no prepared point; verification
// through crypto/ed25519 rejects every signature under them.
func TestEd25519ExpandedOnlyForPoints(t *testing.T) {
	// y = 2 is not the y-coordinate of a point on edwards25519.
	offCurve := make([]byte, 32)
	offCurve[0] = 2
	if (&jwks.Key{Public: ed25519.PublicKey(offCurve)}).Ed25519Expanded() != nil {
		t.Error("off-curve key prepared")
	}
	if ok, _ := jwksVerify(offCurve, []byte("m"), make([]byte, 64)); ok {
		t.Error("signature accepted under an off-curve key")
	}
	if (&jwks.Key{Public: ed25519.PublicKey(offCurve[:31])}).Ed25519Expanded() != nil {
		t.Error("31-byte key prepared")
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if (&jwks.Key{Public: &ec.PublicKey}).Ed25519Expanded() != nil {
		t.Error("P-256 key prepared")
	}
}

func FuzzEd25519Verify(f *testing.F) {
	msg := []byte("header.payload")
	pub, sig := signedEd25519(f, msg)
	f.Add([]byte(pub), msg, sig)
	f.Add([]byte(pub), msg, flipBit(sig, 500))
	for _, v := range edVectors(f)[:40] {
		f.Add(v.pub, v.msg, v.sig)
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize {
			return // crypto/ed25519 panics; jwks refuses such keys
		}
		want := ed25519.Verify(pub, msg, sig)
		if got, _ := jwksVerify(pub, msg, sig); got != want {
			t.Fatalf("prepared %v, crypto/ed25519 %v", got, want)
		}
	})
}

// One key serves every concurrent Check: preparing it on first use and
// verifying with it from many goroutines is safe (run under -race).
func TestEd25519ExpandedConcurrentUse(t *testing.T) {
	msg := []byte("header.payload")
	pub, sig := signedEd25519(t, msg)
	key := &jwks.Key{Public: pub}
	bad := flipBit(sig, 3)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if !EdDSA.verifyKey(key, msg, sig) {
					errs <- "valid signature rejected"
					return
				}
				if EdDSA.verifyKey(key, msg, bad) {
					errs <- "broken signature accepted"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if key.Ed25519Expanded() == nil {
		t.Error("key not prepared")
	}
}
