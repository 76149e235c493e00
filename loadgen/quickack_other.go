//go:build !linux

package loadgen

import "net"

// quickAck is Linux only; elsewhere the connection keeps its delayed ACKs.
func quickAck(c net.Conn) (net.Conn, error) { return c, nil }
