package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Backend is one server behind a Balancer: POP3 at Addr, health checked
// with GET /readyz at CheckAddr (popgate's admin listener).
type Backend struct {
	Addr, CheckAddr string
}

// Balancer is a private HAProxy in TCP mode on a 127.0.0.1 port.
type Balancer struct {
	Addr string
}

// StartHAProxy starts HAProxy in front of backends as a site runs it before
// several popgate instances: mode tcp, round robin (so that consecutive
// sessions alternate), a PROXY v2 header on every connection, and each
// server in use only while its /readyz answers 200 (checked every 100ms).
// It stops when the test ends, and its log is printed if the test failed.
func StartHAProxy(t testing.TB, backends []Backend) *Balancer {
	t.Helper()
	bin := Require(t, "haproxy")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "haproxy.log")
	logOnFailure(t, "haproxy", logPath)
	addr, _ := startOnFreePort(t, "haproxy", logPath, func(port int) (*exec.Cmd, error) {
		conf := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(conf, []byte(haproxyConf(port, backends)), 0o644); err != nil {
			return nil, err
		}
		return exec.Command(bin, "-db", "-f", conf), nil
	})
	return &Balancer{Addr: addr}
}

func haproxyConf(port int, backends []Backend) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    log stderr format short local0

defaults
    log global
    mode tcp
    option tcplog
    timeout connect 2s
    # A connection to an instance that died since the last check is
    # retried on another one.
    retries 3
    option redispatch 1
    timeout client 11m
    timeout server 11m

frontend pop3
    bind 127.0.0.1:%d
    default_backend popgate

backend popgate
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
`, port)
	for i, be := range backends {
		host, checkPort, _ := strings.Cut(be.CheckAddr, ":")
		fmt.Fprintf(&b, "    server s%d %s send-proxy-v2 check addr %s port %s inter 100ms fall 1 rise 1\n",
			i+1, be.Addr, host, checkPort)
	}
	return b.String()
}
