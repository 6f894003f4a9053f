package urlpath

import "strings"

// SplitHostPort splits an authority "host:port" or "[v6]:port" into its
// name and port; a host without a port, a bare IPv6 address included, has
// an empty port. Unlike net.SplitHostPort it never fails and never
// allocates: the brackets of an IPv6 name are kept.
func SplitHostPort(h string) (name, port string) {
	if strings.HasPrefix(h, "[") {
		if i := strings.LastIndex(h, "]:"); i > 0 {
			return h[:i+1], h[i+2:]
		}
		return h, ""
	}
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.IndexByte(h[:i], ':') >= 0 {
		return h, ""
	}
	return h[:i], h[i+1:]
}
