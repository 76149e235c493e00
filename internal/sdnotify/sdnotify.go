// Package sdnotify tells systemd about the service's state through the
// NOTIFY_SOCKET protocol (sd_notify(3)): READY=1 once serving, RELOADING=1
// with MONOTONIC_USEC while reloading, STOPPING=1 when draining. Outside
// systemd (no NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// Notifier sends state lines to one socket.
type Notifier struct {
	addr string // "" when not run by systemd
}

// New returns a Notifier for socket, the value of NOTIFY_SOCKET: a path,
// or an abstract socket name starting with '@'.
func New(socket string) *Notifier { return &Notifier{addr: socket} }

// Enabled reports whether there is a socket to notify.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != "" }

// Send sends the state lines (KEY=VALUE) as one datagram.
func (n *Notifier) Send(lines ...string) error {
	if !n.Enabled() {
		return nil
	}
	addr := n.addr
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Ready says the service is up, or done reloading.
func (n *Notifier) Ready(status string) error {
	return n.Send("READY=1", "STATUS="+status)
}

// Reloading says a reload has begun. systemd wants the CLOCK_MONOTONIC
// time with it, to match the reload with the READY=1 that ends it.
func (n *Notifier) Reloading() error {
	return n.Send("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()))
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
