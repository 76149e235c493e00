package upstream

import (
	"net"
	"sync/atomic"
	"syscall"
)

// ackConn is the TCP connection to a legacy server. It arms TCP_QUICKACK
// whenever popgate is about to wait for the rest of a reply.
//
// Servers such as popa3d and qpopper write one reply in several small
// writes with Nagle's algorithm on: a piece is held back while the one
// before it is not acknowledged. Linux delays its acknowledgements on a
// connection that sends soon after it receives (its "pingpong" mode, up to
// 40 ms), hoping to carry them on its next data; a proxy sends nothing until
// it has the whole reply, so each such reply waited out the timer. Setting
// TCP_QUICKACK leaves that mode and sends an acknowledgement that is due at
// once; the kernel re-enters the mode by itself at the next command.
//
// So quickack is armed before a read that continues a reply after a read
// that took all the socket held: that read waits for the server, whose next
// piece may be waiting for popgate's acknowledgement. A reply that one read
// takes in, as Dovecot sends them, costs nothing; a reply in pieces costs
// one setsockopt per wait.
type ackConn struct {
	net.Conn
	rc  syscall.RawConn
	set func(fd uintptr) // setQuickAck
	// more is set by a read that returned data but less than asked for:
	// a further read before the next write waits for more of the reply.
	// Atomic because closing a TLS connection from another goroutine
	// writes its alert.
	more atomic.Bool
}

// withQuickAck wraps nc, a freshly dialled connection, when the platform
// has TCP_QUICKACK and nc is a socket; otherwise it returns nc.
func withQuickAck(nc net.Conn) net.Conn {
	if !quickAckSupported {
		return nc
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	return &ackConn{Conn: nc, rc: rc, set: setQuickAck}
}

// Write sends a command (or TLS records carrying one): the first read
// after it waits for a new reply, whose first piece the server sends
// without waiting for an acknowledgement.
func (a *ackConn) Write(p []byte) (int, error) {
	a.more.Store(false)
	return a.Conn.Write(p)
}

// Read arms quickack when it waits for more of a reply. After a read that
// filled p, more data was there already and this read does not wait.
func (a *ackConn) Read(p []byte) (int, error) {
	if a.more.Load() {
		a.arm()
	}
	n, err := a.Conn.Read(p)
	a.more.Store(n > 0 && n < len(p))
	return n, err
}

// arm sets TCP_QUICKACK. A failure (the socket is closing) costs only
// speed, and the read that follows reports the connection's state.
func (a *ackConn) arm() {
	a.rc.Control(a.set)
}

// SyscallConn reaches the socket under the wrapper, for a caller that
// looks at it directly (a pooled connection is peeked before use).
func (a *ackConn) SyscallConn() (syscall.RawConn, error) { return a.rc, nil }
