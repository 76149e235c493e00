package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/popgate/popgate/config"
)

// Listener roles, also the names a systemd socket unit gives its sockets
// with FileDescriptorName= (LISTEN_FDNAMES).
const (
	rolePlain = "plain"
	roleTLS   = "tls"
	roleAdmin = "admin"
)

// listenFDsStart is the first file descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// listeners are the sockets popgate serves on; nil when disabled.
type listeners struct {
	Plain, TLS, Admin net.Listener
}

func (l *listeners) closeAll() {
	for _, x := range []net.Listener{l.Plain, l.TLS, l.Admin} {
		if x != nil {
			x.Close()
		}
	}
}

// openListeners takes the sockets systemd passed (socket activation), and
// binds the rest with SO_REUSEPORT, so that a new popgate can bind the same
// ports while the old one drains.
func openListeners(cfg config.Config, environ []string) (*listeners, error) {
	ls := &listeners{}
	inherited, err := activationListeners(environ)
	if err != nil {
		return nil, err
	}
	for _, in := range inherited {
		role := in.role
		if role == "" {
			role = roleByAddress(cfg, in.l.Addr())
		}
		slot := ls.slot(role)
		if slot == nil || *slot != nil {
			ls.closeAll()
			closeInherited(inherited)
			return nil, fmt.Errorf("socket activation: socket %s (%s) matches no configured listener; name it plain, tls or admin (FileDescriptorName=)", in.l.Addr(), in.name)
		}
		*slot = in.l
	}
	for _, want := range []struct {
		role, env string
		addr      config.ListenAddr
	}{
		{rolePlain, "POPGATE_LISTEN", cfg.Listen},
		{roleTLS, "POPGATE_LISTEN_TLS", cfg.ListenTLS},
		{roleAdmin, "POPGATE_ADMIN_LISTEN", cfg.AdminListen},
	} {
		slot := ls.slot(want.role)
		if *slot != nil || !want.addr.Enabled() {
			continue
		}
		l, err := listenReusePort(string(want.addr))
		if err != nil {
			ls.closeAll()
			return nil, fmt.Errorf("%s: %w", want.env, err)
		}
		*slot = l
	}
	return ls, nil
}

func (l *listeners) slot(role string) *net.Listener {
	switch role {
	case rolePlain:
		return &l.Plain
	case roleTLS:
		return &l.TLS
	case roleAdmin:
		return &l.Admin
	}
	return nil
}

// listenReusePort binds addr with SO_REUSEPORT: Linux then spreads new
// connections over every socket bound to the port by the same user, so an
// old and a new popgate can serve side by side during a restart.
//
// Accepted connections get no TCP keepalive: a POP3 session has an idle
// timeout that drops a vanished client sooner, and the four options Go would
// set cost four system calls per connection.
func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// sharedListener marks a socket that outlives this process (systemd holds
// it), so a drain leaves new connections queued in it for the successor.
type sharedListener struct {
	*net.TCPListener
}

// inheritedListener is one socket passed by systemd.
type inheritedListener struct {
	l    net.Listener
	name string // as in LISTEN_FDNAMES
	role string // plain, tls, admin, or "" to match by address
}

func closeInherited(ls []inheritedListener) {
	for _, x := range ls {
		x.l.Close()
	}
}

// activationListeners returns the sockets of systemd socket activation
// (sd_listen_fds(3)): LISTEN_FDS sockets from fd 3, meant for this process
// when LISTEN_PID is its pid, named by LISTEN_FDNAMES.
func activationListeners(environ []string) ([]inheritedListener, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "LISTEN_") {
			env[k] = v
		}
	}
	if env["LISTEN_PID"] != strconv.Itoa(os.Getpid()) {
		return nil, nil // not activated, or the variables were meant for a parent
	}
	n, err := strconv.Atoi(env["LISTEN_FDS"])
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count", env["LISTEN_FDS"])
	}
	var names []string
	if s := env["LISTEN_FDNAMES"]; s != "" {
		names = strings.Split(s, ":")
	}
	var out []inheritedListener
	for i := range n {
		fd := listenFDsStart + i
		syscall.CloseOnExec(fd)
		name := ""
		if i < len(names) {
			name = names[i]
		}
		f := os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own copy
		if err != nil {
			closeInherited(out)
			return nil, fmt.Errorf("socket activation: fd %d (%s): %w", fd, name, err)
		}
		if tl, ok := l.(*net.TCPListener); ok {
			l = &sharedListener{tl}
		}
		in := inheritedListener{l: l, name: name}
		switch name {
		case rolePlain, roleTLS, roleAdmin:
			in.role = name
		}
		out = append(out, in)
	}
	return out, nil
}

// roleByAddress matches an unnamed inherited socket to the configured
// address with the same port (and the same IP, unless either side is the
// unspecified address).
func roleByAddress(cfg config.Config, a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	for _, c := range []struct {
		role string
		addr config.ListenAddr
	}{{rolePlain, cfg.Listen}, {roleTLS, cfg.ListenTLS}, {roleAdmin, cfg.AdminListen}} {
		if !c.addr.Enabled() {
			continue
		}
		host, port, err := net.SplitHostPort(string(c.addr))
		if err != nil || port != strconv.Itoa(ta.Port) {
			continue
		}
		ip := net.ParseIP(host)
		if host == "" || ip == nil || ip.IsUnspecified() || ta.IP.IsUnspecified() || ip.Equal(ta.IP) {
			return c.role
		}
	}
	return ""
}
