package loadgen

import (
	"net"
	"syscall"
)

// quickAckConn re-arms TCP_QUICKACK after every read: the kernel leaves
// quick-ACK mode by itself once it sees an exchange as interactive.
type quickAckConn struct {
	net.Conn
	raw syscall.RawConn
}

func quickAck(c net.Conn) (net.Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	q := &quickAckConn{Conn: c, raw: raw}
	return q, q.arm()
}

func (q *quickAckConn) arm() error {
	var serr error
	err := q.raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func (q *quickAckConn) Read(p []byte) (int, error) {
	n, err := q.Conn.Read(p)
	if n > 0 {
		q.arm() // best effort: a failure only means a delayed ACK
	}
	return n, err
}
