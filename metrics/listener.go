package metrics

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// CountListener wraps l so that every accepted connection counts as an
// active session until it is closed.
func (m *Metrics) CountListener(l net.Listener) net.Listener {
	return &countingListener{Listener: l, m: m}
}

type countingListener struct {
	net.Listener
	m *Metrics
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.m.active.Inc()
	return &countedConn{Conn: c, m: l.m}, nil
}

// countedConn leaves the gauge once, however often it is closed (the proxy
// closes both its TLS and its raw view of a connection).
type countedConn struct {
	net.Conn
	m    *Metrics
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.m.active.Dec)
	return c.Conn.Close()
}

// SyscallConn reaches the socket under the counting, for a caller that
// waits on the descriptor itself (the proxy parks idle sessions so).
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
