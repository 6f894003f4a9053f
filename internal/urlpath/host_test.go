package urlpath

import "testing"

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct{ in, name, port string }{
		{"", "", ""},
		{"example.com", "example.com", ""},
		{"example.com:8443", "example.com", "8443"},
		{"example.com:", "example.com", ""},
		{":443", "", "443"},
		{"[::1]", "[::1]", ""},
		{"[::1]:8080", "[::1]", "8080"},
		{"::1", "::1", ""},
		{"fe80::1:80", "fe80::1:80", ""},
	} {
		name, port := SplitHostPort(tc.in)
		if name != tc.name || port != tc.port {
			t.Errorf("SplitHostPort(%q) = %q, %q; want %q, %q", tc.in, name, port, tc.name, tc.port)
		}
	}
}

func TestSplitHostPortAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { SplitHostPort("[::1]:8080") }); n != 0 {
		t.Errorf("SplitHostPort allocates %v times", n)
	}
}
