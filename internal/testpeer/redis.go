package testpeer

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Redis is a private redis-server on a 127.0.0.1 port. Its data is kept in
// an append-only file, so Stop followed by Start loses nothing: tests of a
// store outage stop and restart it under load.
type Redis struct {
	Addr string // 127.0.0.1:port

	t       testing.TB
	bin     string
	dir     string
	logPath string
	port    int

	mu sync.Mutex
	d  *daemon
}

// StartRedis starts a private redis-server on a free loopback port, with no
// configuration file, no RDB snapshots and the data in a temporary
// directory. It stops when the test ends, and its log is printed if the
// test failed.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: Require(t, "redis-server"), dir: t.TempDir()}
	r.logPath = filepath.Join(r.dir, "redis.log")
	logOnFailure(t, "redis", r.logPath)
	const attempts = 5
	for range attempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testpeer: redis: %v", err)
		}
		r.port = port
		r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		err = r.start()
		if err == errPortInUse {
			continue
		}
		if err != nil {
			t.Fatalf("testpeer: redis: %v", err)
		}
		t.Cleanup(r.Stop)
		return r
	}
	t.Fatalf("testpeer: redis: no free port after %d attempts", attempts)
	return nil
}

// URL returns the redis:// URL of database db.
func (r *Redis) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr, db) }

// Stop stops the server; new connections are refused until Start.
func (r *Redis) Stop() {
	r.mu.Lock()
	d := r.d
	r.d = nil
	r.mu.Unlock()
	if d != nil {
		d.stop()
	}
}

// Start starts the server again on the same port with the same data.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("testpeer: redis: restart on %s: %v", r.Addr, err)
	}
}

func (r *Redis) start() error {
	cmd := exec.Command(r.bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--dir", r.dir, "--save", "", "--appendonly", "yes",
		"--appendfsync", "no", "--protected-mode", "no", "--daemonize", "no")
	d, err := startDaemon(cmd, r.logPath)
	if err != nil {
		return err
	}
	if err := waitPong(d, r.Addr); err != nil {
		d.stop()
		return err
	}
	r.mu.Lock()
	r.d = d
	r.mu.Unlock()
	return nil
}

// waitPong waits until addr answers PING with PONG. Redis loading its
// append-only file answers -LOADING first.
func waitPong(d *daemon, addr string) error {
	return waitReady(d, addr, func() (bool, error) {
		line, err := ping(addr)
		if err == nil && line != "+PONG" {
			err = fmt.Errorf("PING answered %q", line)
		}
		return err == nil, err
	})
}

func ping(addr string) (string, error) { return exchange(addr, []byte("PING\r\n"), nil) }
