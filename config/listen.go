package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Off is the value that disables a listener. A variable set to the empty
// string means its default, so disabling needs a word of its own.
const Off = "off"

// ListenAddr is a host:port to listen on, or "" when disabled.
type ListenAddr string

// UnmarshalText accepts host:port (host may be empty for all addresses,
// port 0 picks a free port) or "off".
func (a *ListenAddr) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.EqualFold(s, Off) {
		*a = ""
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port or %q", s, Off)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", s)
	}
	*a = ListenAddr(s)
	return nil
}

// Loopback reports whether the address is a loopback one (localhost or a
// loopback IP); an empty host means every address, so it is not.
func (a ListenAddr) Loopback() bool {
	host, _, err := net.SplitHostPort(string(a))
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Enabled reports whether a listener is configured.
func (a ListenAddr) Enabled() bool { return a != "" }

// String returns the address, or "off".
func (a ListenAddr) String() string {
	if a == "" {
		return Off
	}
	return string(a)
}
