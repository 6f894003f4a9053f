package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// errNotLoopback is returned for an address outside 127.0.0.0/8, ::1 and
// localhost.
var errNotLoopback = errors.New("not a loopback address (only 127.0.0.0/8, ::1 and localhost are allowed)")

// checkLoopback accepts a host:port whose host is a loopback IP address or
// the name "localhost". An empty host is refused: for a listener it would
// mean every interface, and a load generator must not guess.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("address %q: missing port", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	// Zones ("::1%lo") are not accepted: ParseIP rejects them, which is the
	// safe answer for a check like this one.
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: %w", addr, errNotLoopback)
	}
	return nil
}
