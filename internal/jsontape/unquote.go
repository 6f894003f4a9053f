package jsontape

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The functions here decode the body of a string (the bytes between its
// quotes) that Parse has already validated. They follow encoding/json:
// escapes are decoded, UTF-16 surrogate pairs are combined, and lone
// surrogates and bytes that are not valid UTF-8 each become U+FFFD.

// appendUnquoted appends the decoded value of the string body s to dst.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c != '\\' && c < utf8.RuneSelf {
			j := i + 1
			for j < len(s) && s[j] != '\\' && s[j] < utf8.RuneSelf {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		var r rune
		r, i = decodeRune(s, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// unquotedEquals reports whether the decoded value of the string body s
// equals name, without allocating.
func unquotedEquals(s []byte, name string) bool {
	var buf [utf8.UTFMax]byte
	j := 0
	for i := 0; i < len(s); {
		if c := s[i]; c != '\\' && c < utf8.RuneSelf {
			if j >= len(name) || name[j] != c {
				return false
			}
			i++
			j++
			continue
		}
		var r rune
		r, i = decodeRune(s, i)
		w := utf8.EncodeRune(buf[:], r)
		if len(name)-j < w || string(buf[:w]) != name[j:j+w] {
			return false
		}
		j += w
	}
	return j == len(name)
}

// decodeRune decodes the character or escape sequence at s[i], which is a
// backslash or a byte ≥ utf8.RuneSelf, and returns it with the offset of
// what follows.
func decodeRune(s []byte, i int) (rune, int) {
	if s[i] != '\\' {
		r, size := utf8.DecodeRune(s[i:])
		return r, i + size // RuneError and size 1 for invalid UTF-8
	}
	switch c := s[i+1]; c {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(s[i+2 : i+6])
		i += 6
		if !utf16.IsSurrogate(r) {
			return r, i
		}
		if len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
			if d := utf16.DecodeRune(r, hex4(s[i+2:i+6])); d != utf8.RuneError {
				return d, i + 6
			}
		}
		return utf8.RuneError, i
	default: // '"', '\\', '/'
		return rune(c), i + 2
	}
}

// hex4 decodes four hexadecimal digits, already validated by Parse.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
