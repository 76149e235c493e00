//go:build !unix

package upstream

import "net"

// peerSpoke cannot look without reading here: a dead pooled connection is
// found by the login, which is then retried.
func peerSpoke(net.Conn) bool { return false }
