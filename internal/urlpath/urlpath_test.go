package urlpath

import (
	"strings"
	"testing"
)

// isRefused marks a path Normalize refuses.
const isRefused = "<isRefused>"

// normalizeCases give, for each raw path, its canonical form in Reject
// and in Envoy mode. Rows marked "envoy:" are the vectors of Envoy's own
// path_utility_test.cc (normalize_path and merge_slashes); where the
// answer differs from Envoy's, the comment says why.
var normalizeCases = []struct {
	raw, reject, envoy string
}{
	// Already canonical.
	{"/", "/", "/"},
	{"/xyz", "/xyz", "/xyz"},       // envoy: AlreadyNormalPaths
	{"/x/y/z", "/x/y/z", "/x/y/z"}, // envoy: AlreadyNormalPaths
	{"/A/B/C", "/A/B/C", "/A/B/C"}, // envoy: not lower-cased
	{"/public/", "/public/", "/public/"},
	{"/a-b_c~d.e", "/a-b_c~d.e", "/a-b_c~d.e"},
	{"/a!$&'()*+,;=:@", "/a!$&'()*+,;=:@", "/a!$&'()*+,;=:@"},
	{"/.well-known/jwks.json", "/.well-known/jwks.json", "/.well-known/jwks.json"},
	{"/...", "/...", "/..."},
	{"/a/.../b", "/a/.../b", "/a/.../b"},
	{"/.a/..b/b..", "/.a/..b/b..", "/.a/..b/b.."},
	{"/a;b/c;d=1", "/a;b/c;d=1", "/a;b/c;d=1"},

	// The attack table: what was walked around before.
	{"/admin/..%2Fpublic", isRefused, "/admin/..%2Fpublic"},
	{"/admin%2F..%2Fpublic", isRefused, "/admin%2F..%2Fpublic"},
	{`/admin\..\public`, isRefused, "/public"},
	{"/publicity", "/publicity", "/publicity"},
	{"/admin/../public", isRefused, "/public"},
	{"/public/../admin", isRefused, "/admin"},
	{"/public/..%2Fadmin", isRefused, "/public/..%2Fadmin"},
	{"/public/%2e%2e/admin", isRefused, "/admin"},
	{"/public/..;/admin", isRefused, "/public/..;/admin"},
	{"/public/.;/admin", isRefused, "/public/.;/admin"},
	{"/public/..%3B/admin", "/public/..%3B/admin", "/public/..%3B/admin"},

	// Dot segments, raw and encoded, every position.
	{"/a/b/../c", isRefused, "/a/c"},        // envoy: parent dir
	{"/a/b/./c", isRefused, "/a/b/c"},       // envoy: current dir
	{"a/b/../c", isRefused, "/a/c"},         // envoy: non / start
	{"/a/b/../../../../c", isRefused, "/c"}, // envoy: out number parent
	{`/a/..\c`, isRefused, "/c"},            // envoy: "..\" canonicalization
	{"/a/b/%2E%2E/c", isRefused, "/a/c"},    // envoy: %2E escape
	{"/a/b/%2e%2e/c", isRefused, "/a/c"},    // envoy: %2e escape
	{"/a/b/%2E./c", isRefused, "/a/c"},      // envoy
	{"/a/b/.%2e/c", isRefused, "/a/c"},
	{"/a/b/%2E/c", isRefused, "/a/b/c"}, // envoy
	{"..", isRefused, "/"},              // envoy
	{"/../a/b", isRefused, "/a/b"},      // envoy
	{"/./a/b", isRefused, "/a/b"},       // envoy
	{"/a/b/.", isRefused, "/a/b/"},
	{"/a/b/..", isRefused, "/a/"},
	{"/..", isRefused, "/"},
	{"/.", isRefused, "/"},
	{"/a/.", isRefused, "/a/"},
	{"/a//../b", isRefused, "/a/b"}, // empty segments count before slashes merge, as in Envoy
	{"/a%2Eb", isRefused, "/a.b"},
	{"/a%2eb", isRefused, "/a.b"},

	// Encoded slashes and backslashes, either case.
	{"/a%2Fb", isRefused, "/a%2Fb"},
	{"/a%2fb", isRefused, "/a%2Fb"},
	{"/a/%2F%2f/c", isRefused, "/a/%2F%2F/c"}, // envoy keeps %2f's case; see segment
	{"/a%5Cb", isRefused, "/a%5Cb"},
	{"/a%5cb", isRefused, "/a%5Cb"},
	{"/%5c%25", isRefused, "/%5C%25"}, // envoy: reserved characters (case kept there)
	{`/a\b`, isRefused, "/a/b"},
	{`\a`, isRefused, "/a"},

	// Control characters, raw and encoded, and malformed escapes: isRefused
	// in both modes (Envoy's codec refuses them before normalizing).
	{"/a%00b", isRefused, isRefused},
	{"/xyz/.%00../abc", isRefused, isRefused},      // envoy: InvalidPaths
	{"/xyz/%00.%00./abc", isRefused, isRefused},    // envoy: InvalidPaths
	{"/xyz/AAAAA%%0000/abc", isRefused, isRefused}, // envoy: InvalidPaths
	{"/a%0Ab", isRefused, isRefused},
	{"/a%0d%0aSet-Cookie:x", isRefused, isRefused},
	{"/a%1F", isRefused, isRefused},
	{"/a%7F", isRefused, isRefused},
	{"/a\x00b", isRefused, isRefused},
	{"/a\tb", isRefused, isRefused},
	{"/a\rb", isRefused, isRefused},
	{"/a\nb", isRefused, isRefused},
	{"/a\x7fb", isRefused, isRefused},
	{"/a%", isRefused, isRefused},
	{"/a%2", isRefused, isRefused},
	{"/a%G0", isRefused, isRefused},
	{"/a%0G", isRefused, isRefused},
	{"/a%%", isRefused, isRefused},
	{"/a%-1", isRefused, isRefused},
	{"%", isRefused, isRefused},

	// Double encodings stay one segment.
	{"/a%252Fb", "/a%252Fb", "/a%252Fb"},
	{"/a%252fb", "/a%252fb", "/a%252fb"}, // "%25" is canonical; "2f" is not an escape
	{"/public/%252E%252E/admin", "/public/%252E%252E/admin", "/public/%252E%252E/admin"},
	{"/a%255Cb", "/a%255Cb", "/a%255Cb"},
	{"/a%2500", "/a%2500", "/a%2500"},
	{"/%25", "/%25", "/%25"},

	// Unreserved characters decoded, other escapes upper-cased.
	{"/%61%62%63", "/abc", "/abc"},
	{"/%41%5A%30%39", "/AZ09", "/AZ09"},
	{"/%2D%5F%7E", "/-_~", "/-_~"},
	{"/%7euser", "/~user", "/~user"},
	{"/p%75blic", "/public", "/public"},
	{"/a%20b", "/a%20b", "/a%20b"},
	{"/a%3fb", "/a%3Fb", "/a%3Fb"},
	{"/a%3Fb", "/a%3Fb", "/a%3Fb"},
	{"/a%23b", "/a%23b", "/a%23b"},
	{"/a%2b", "/a%2B", "/a%2B"},
	{"/%c0%af", "/%C0%AF", "/%C0%AF"}, // envoy keeps the case (2-byte overlong "/")
	{"/%C0%AF", "/%C0%AF", "/%C0%AF"},
	{"/%ff", "/%FF", "/%FF"},

	// UTF-8 and other characters a path may not carry raw: encoded.
	{"/café", "/caf%C3%A9", "/caf%C3%A9"},
	{"/caf%c3%a9", "/caf%C3%A9", "/caf%C3%A9"},
	{"/日本", "/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC"},
	{"/a b", "/a%20b", "/a%20b"},
	{`/a"b`, "/a%22b", "/a%22b"},
	{"/a<b>", "/a%3Cb%3E", "/a%3Cb%3E"},
	{"/a{b}|^`", "/a%7Bb%7D%7C%5E%60", "/a%7Bb%7D%7C%5E%60"},
	{"/a[b]", "/a%5Bb%5D", "/a%5Bb%5D"},
	{"/\xff\xfe", "/%FF%FE", "/%FF%FE"},

	// Merged slashes (Envoy's MergeSlashes vectors, absolute form).
	{"/a//b/c/", "/a/b/c/", "/a/b/c/"},
	{"//a/b/c", "/a/b/c", "/a/b/c"},
	{"/a//b/c", "/a/b/c", "/a/b/c"},
	{"/a/b/c//", "/a/b/c/", "/a/b/c/"},
	{"/a///b/c", "/a/b/c", "/a/b/c"},
	{"/a////b/c", "/a/b/c", "/a/b/c"},
	{"//", "/", "/"}, // Envoy leaves "//" alone; either reads as the root
	{"///", "/", "/"},
	{"a//b/c", "/a/b/c", "/a/b/c"}, // envoy: relative (slash prefixed)
	{"", "/", "/"},
	{"a", "/a", "/a"},
	{"*", "/*", "/*"},
}

func TestNormalize(t *testing.T) {
	if len(normalizeCases) < 80 {
		t.Fatalf("only %d cases", len(normalizeCases))
	}
	for _, tc := range normalizeCases {
		for _, m := range []struct {
			name string
			mode Mode
			want string
		}{{"reject", Reject, tc.reject}, {"envoy", Envoy, tc.envoy}} {
			got, ok := Normalize(tc.raw, m.mode)
			if !ok {
				got = isRefused
			}
			if got != m.want {
				t.Errorf("%s: Normalize(%q) = %q, want %q", m.name, tc.raw, got, m.want)
			}
			if ok {
				// Canonical forms are fixed points; what Reject accepts,
				// Envoy mode reads the same.
				modes := []Mode{m.mode}
				if m.mode == Reject {
					modes = append(modes, Envoy)
				}
				for _, mm := range modes {
					if again, ok := Normalize(got, mm); !ok || again != got {
						t.Errorf("%s: Normalize(%q) = %q, %v: not a fixed point", m.name, got, again, ok)
					}
				}
			}
		}
	}
}

func TestNormalizeLongPaths(t *testing.T) {
	seg := strings.Repeat("a", 100)
	long := strings.Repeat("/"+seg, 1000) // 101 kB
	if got, ok := Normalize(long, Reject); !ok || got != long {
		t.Fatalf("long clean path changed")
	}
	if _, ok := Normalize(long+"/..", Reject); ok {
		t.Fatal("long path with a trailing dot segment accepted")
	}
	if got, ok := Normalize(long+"/../b", Envoy); !ok || got != strings.Repeat("/"+seg, 999)+"/b" {
		t.Fatal("long path: dot segment not resolved")
	}
	ups := strings.Repeat("/..", 5000) + "/x"
	if got, ok := Normalize(ups, Envoy); !ok || got != "/x" {
		t.Fatalf("Normalize(5000 × /..) = %q, %v", got, ok)
	}
	enc := strings.Repeat("%61", 10000)
	if got, ok := Normalize("/"+enc, Reject); !ok || got != "/"+strings.Repeat("a", 10000) {
		t.Fatal("long encoded path not decoded")
	}
	if _, ok := Normalize("/"+strings.Repeat("a", 10000)+"%", Envoy); ok {
		t.Fatal("malformed escape at the end of a long path accepted")
	}
}

func TestSplit(t *testing.T) {
	tests := []struct{ target, path, query string }{
		{"", "", ""},
		{"/abc", "/abc", ""},
		{"/abc?", "/abc", ""},
		{"/abc?param=value", "/abc", "param=value"},
		{"/abc?param=value1&param=value2", "/abc", "param=value1&param=value2"},
		{"/abc??", "/abc", "?"},
		{"/abc??param=value", "/abc", "?param=value"},
		{"/abc#", "/abc", ""},
		{"/abc#fragment", "/abc", ""},
		{"/abc#fragment?param=value", "/abc", ""},
		{"/abc##", "/abc", ""},
		{"/abc#?", "/abc", ""},
		{"/abc?#", "/abc", ""},
		{"/abc?param=value#", "/abc", "param=value"},
		{"/abc?param=value#fragment", "/abc", "param=value"},
		{"/a//b?a=///c", "/a//b", "a=///c"},
	}
	for _, tc := range tests {
		p, q := Split(tc.target)
		if p != tc.path || q != tc.query {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tc.target, p, q, tc.path, tc.query)
		}
	}
}

func TestNormalizeCleanAllocs(t *testing.T) {
	p := "/api/v1/orders/12345/items"
	if n := testing.AllocsPerRun(100, func() { _, _ = Normalize(p, Reject) }); n != 0 {
		t.Fatalf("clean path: %v allocs", n)
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"clean", "/api/v1/orders/12345/items"},
		{"root", "/"},
		{"rewrite", "/api//v1/%7Eorders/caf%c3%a9"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Normalize(bc.path, Reject)
			}
		})
	}
}
