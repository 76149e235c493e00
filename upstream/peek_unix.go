//go:build unix

package upstream

import (
	"errors"
	"net"
	"syscall"
)

// peerSpoke reports, without waiting, whether the server has closed an idle
// connection or sent something on it: a plain connection before login that
// is readable is one the server is done with. It costs one system call.
// Over TLS, the server may have sent session tickets after the handshake,
// so readable says nothing: the login finds out, and is retried.
func peerSpoke(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	spoke := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Data, end of file (0 bytes, no error) or a reset; EAGAIN is an
		// idle, healthy connection.
		spoke = n > 0 || err == nil || !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
		return true // never wait for readiness
	})
	return err == nil && spoke
}
