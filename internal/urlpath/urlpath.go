// Package urlpath builds the canonical form of a request path that every
// authorization rule is matched against, and refuses the paths whose
// meaning depends on who reads them.
//
// The canonical form is what Envoy makes of a path with normalize_path
// and merge_slashes on: percent-encoded unreserved characters (RFC 3986
// §2.3) decoded, the hex digits of the remaining escapes upper-cased,
// characters that may not appear raw in a path percent-encoded, and
// duplicate slashes merged. Query and fragment are not part of it (see
// Split).
//
// Ambiguous paths are those a next hop may read differently from the
// canonical form: dot segments, %2E, encoded slashes and backslashes, a
// raw backslash, control characters raw or encoded, and malformed escapes.
// In Reject mode Normalize refuses them. In Envoy mode it resolves them as
// Envoy does and refuses only what Envoy refuses too.
//
// It depends on nothing but the standard library, so that the Check
// service and configuration validation share one definition. Everything
// here is safe for concurrent use.
package urlpath

import "strings"

// Mode says what Normalize does with an ambiguous path.
type Mode uint8

const (
	// Reject refuses every ambiguous path.
	Reject Mode = iota
	// Envoy resolves dot segments (%2E included, RFC 3986 §5.2.4) and
	// reads a raw backslash as a slash, as Envoy's normalize_path does;
	// %2F and %5C stay encoded inside their segment, as Envoy's default
	// path_with_escaped_slashes_action KEEP_UNCHANGED routes them.
	// Control characters and malformed escapes are still refused.
	Envoy
)

// Split cuts a request target into its path and query: the query runs
// from the first '?' to the first '#' after it, and the fragment is
// dropped. A '#' before any '?' ends the path and there is no query.
func Split(target string) (path, query string) {
	path = target
	if i := strings.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
		if j := strings.IndexByte(query, '#'); j >= 0 {
			query = query[:j]
		}
	}
	if i := strings.IndexByte(path, '#'); i >= 0 {
		return path[:i], ""
	}
	return path, query
}

// class is what a byte of a raw path needs.
type class uint8

const (
	plain   class = iota // kept as it is
	encode               // written as %XX
	bad                  // control character: always refused
	percent              // start of an escape
	slash                // '/'
	back                 // '\'
	semi                 // ';', plain unless it follows a dot segment's dots
)

// classes holds the class of every byte. Plain are the characters RFC
// 3986 allows raw in a path segment (unreserved, sub-delims, ':' and '@');
// the rest of printable ASCII and every non-ASCII byte are encoded, as
// Envoy (whose normalizer is Chromium's URL canonicalizer) does for
// UTF-8 and most of them.
var classes = func() (t [256]class) {
	for c := 0; c < 256; c++ {
		switch {
		case c < 0x20 || c == 0x7f:
			t[c] = bad
		case c >= 0x80:
			t[c] = encode
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = plain
		default:
			t[c] = encode
		}
	}
	// '.' is plain too: scan finds dot segments at the slashes.
	for _, c := range "-_~!$&'()*+,=:@" {
		t[c] = plain
	}
	t['%'], t['/'], t['\\'], t['.'], t[';'] = percent, slash, back, plain, semi
	return t
}()

// unreserved reports the characters of RFC 3986 §2.3, which an escape
// never needs to hide and which are therefore decoded.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// Normalize returns the canonical form of the path p (without query or
// fragment), or false when p is ambiguous under m. A path already in
// canonical form is returned as it is, without allocating.
func Normalize(p string, m Mode) (string, bool) {
	if p == "" || p[0] != '/' {
		// A relative or empty path is read as one under "/", as Envoy does
		// (Chromium's canonicalizer prefixes the slash).
		p = "/" + p
	}
	switch scan(p, m) {
	case clean:
		return p, true
	case refused:
		return "", false
	}
	return rewrite(p, m)
}

// verdict is what scan found.
type verdict uint8

const (
	clean     verdict = iota // canonical already
	rewritten                // valid, but not canonical
	refused                  // ambiguous under the mode
)

// scan classifies p, which starts with '/', in one pass, without
// allocating. Its loop is the cost of a clean path, so it does little
// more than look up each byte's class.
func scan(p string, m Mode) verdict {
	v := clean
	seg := 1 // start of the current segment
	for i := 1; i < len(p); i++ {
		c := p[i]
		k := classes[c]
		if k == plain {
			continue
		}
		switch k {
		case slash:
			if i == seg {
				v = rewritten // "//": merged
			} else if isDots(p[seg:i]) {
				if m == Reject {
					return refused
				}
				v = rewritten
			}
			seg = i + 1
		case semi:
			// "..;x" is ".." to Tomcat and Jetty, which cut path
			// parameters off before they resolve dot segments.
			if m == Reject && isDots(p[seg:i]) {
				return refused
			}
		case encode:
			v = rewritten
		case bad:
			return refused
		case back:
			if m == Reject {
				return refused
			}
			v = rewritten
		case percent:
			if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
				return refused
			}
			b := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case b < 0x20 || b == 0x7f:
				return refused
			case b == '.' || b == '/' || b == '\\':
				if m == Reject {
					return refused
				}
				v = rewritten
			case unreserved(b) || isLowerHex(p[i+1]) || isLowerHex(p[i+2]):
				v = rewritten
			}
			i += 2
		}
	}
	if isDots(p[seg:]) {
		if m == Reject {
			return refused
		}
		v = rewritten
	}
	return v
}

// isDots reports a dot segment.
func isDots(s string) bool { return s == "." || s == ".." }

// rewrite builds the canonical form of a path scan did not find clean
// and did not refuse.
func rewrite(p string, m Mode) (string, bool) {
	if m == Envoy {
		// Chromium reads a raw backslash as a slash.
		p = strings.ReplaceAll(p, `\`, "/")
	}
	p = strings.TrimPrefix(p, "/")
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	var b strings.Builder
	for i, s := range segs {
		c, ok := segment(&b, s, m)
		if !ok {
			return "", false
		}
		if c == "." || c == ".." {
			if m == Reject {
				return "", false // scan refused it already
			}
			// RFC 3986 §5.2.4. Empty segments
			// count as segments, as in Envoy, which resolves dot
			// segments before it merges slashes: "/a//../b" is "/a/b".
			if c == ".." && len(out) > 0 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "") // "/a/b/.." is "/a/"
			}
			continue
		}
		out = append(out, c)
	}
	// Merge slashes: drop empty segments, keep a trailing slash.
	b.Reset()
	b.Grow(len(p) + 1)
	n := 0
	for _, s := range out {
		if s == "" {
			continue
		}
		b.WriteByte('/')
		b.WriteString(s)
		n++
	}
	if n == 0 || out[len(out)-1] == "" {
		b.WriteByte('/')
	}
	return b.String(), true
}

// segment returns the canonical form of one path segment, built in b.
func segment(b *strings.Builder, s string, m Mode) (string, bool) {
	b.Reset()
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch classes[c] {
		case bad:
			return "", false
		case encode, back:
			if c == '\\' && m == Reject {
				return "", false
			}
			writeEscape(b, c)
		case percent:
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return "", false
			}
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			switch {
			case d < 0x20 || d == 0x7f:
				return "", false
			case d == '.' || d == '/' || d == '\\':
				if m == Reject {
					return "", false
				}
				if d == '.' {
					b.WriteByte('.')
				} else {
					writeEscape(b, d)
				}
			case unreserved(d):
				b.WriteByte(d)
			default:
				// Envoy keeps the case of escapes it does not decode; RFC
				// 3986 §6.2.2.1 upper-cases them. Either form decodes to
				// the same byte at the upstream, so upper case lets one
				// rule match both.
				writeEscape(b, d)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

const upperHex = "0123456789ABCDEF"

func writeEscape(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
