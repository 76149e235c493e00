package testpeer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds how long a server may take to greet its first client.
const readyTimeout = 15 * time.Second

// stopTimeout is how long a stopped server may take before it is killed.
const stopTimeout = 5 * time.Second

// daemon is a background process in its own process group, so that stopping
// it also stops every child it forked.
type daemon struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error // set before done is closed
	stopOnce sync.Once
	logPath  string
	logStart int64 // the log's size before this process wrote to it
}

// startDaemon runs cmd in a new process group with its output appended to
// logPath.
func startDaemon(cmd *exec.Cmd, logPath string) (*daemon, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := logFile.Stat()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Pdeathsig stops the server even when the test binary dies without
	// running its cleanups (a -timeout panic, a kill).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	d := &daemon{cmd: cmd, done: make(chan struct{}), logPath: logPath, logStart: fi.Size()}
	go func() {
		d.err = cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop signals the whole process group and waits, killing it if it lingers.
// Only the first call does anything.
func (d *daemon) stop() { d.stopOnce.Do(d.kill) }

func (d *daemon) kill() {
	pgid := d.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.done
	}
	// Children that outlived the leader (a forked popa3d session) still
	// hold the group id.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// freePort returns a loopback port that was free a moment ago. The caller
// must cope with losing a race for it (see errPortInUse).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errPortInUse means a server lost the race for its port; start it again.
var errPortInUse = errors.New("port already in use")

// waitGreeting waits until addr answers with a +OK greeting, or the daemon
// exits, or the deadline passes.
func waitGreeting(d *daemon, addr string) error {
	return waitReady(d, addr, func() (bool, error) {
		line, err := greeting(addr)
		if err != nil {
			return false, err
		}
		if !strings.HasPrefix(line, "+OK") {
			return true, fmt.Errorf("server on %s greeted with %q", addr, line)
		}
		return true, nil
	})
}

// waitReady calls probe until it reports done (with its verdict), the
// daemon exits or the deadline passes. The daemon's log tells a lost port
// race from other failures.
func waitReady(d *daemon, addr string, probe func() (done bool, err error)) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		if d.exited() {
			log, _ := os.ReadFile(d.logPath)
			if int64(len(log)) >= d.logStart && bytes.Contains(log[d.logStart:], []byte("in use")) {
				return errPortInUse
			}
			return fmt.Errorf("server exited before answering on %s: %v", addr, d.err)
		}
		done, err := probe()
		if done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server on %s not ready after %v: %w", addr, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// greeting dials addr, reads the first line and quits.
func greeting(addr string) (string, error) {
	return exchange(addr, nil, []byte("QUIT\r\n"))
}

// exchange dials addr, writes send, reads one line, writes then and
// returns the line without its end.
func exchange(addr string, send, then []byte) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write(send); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	_, _ = conn.Write(then)
	return strings.TrimRight(line, "\r\n"), nil
}

// logOnFailure prints the tail of a server log if the test failed.
func logOnFailure(t testing.TB, name, logPath string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		const maxTail = 16 << 10
		log, err := os.ReadFile(logPath)
		if err != nil {
			t.Logf("%s log: %v", name, err)
			return
		}
		if len(log) > maxTail {
			log = log[len(log)-maxTail:]
		}
		t.Logf("%s log (%s):\n%s", name, logPath, log)
	})
}

// startOnFreePort runs the command that command builds for a free loopback
// port and waits for its greeting there, trying another port when the one
// picked was taken in the meantime. The daemon is stopped when t ends.
func startOnFreePort(t testing.TB, name, logPath string, command func(port int) (*exec.Cmd, error)) (string, *daemon) {
	t.Helper()
	const attempts = 5
	for range attempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testpeer: %s: %v", name, err)
		}
		cmd, err := command(port)
		if err != nil {
			t.Fatalf("testpeer: %s: %v", name, err)
		}
		d, err := startDaemon(cmd, logPath)
		if err != nil {
			t.Fatalf("testpeer: %s: %v", name, err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		err = waitGreeting(d, addr)
		if errors.Is(err, errPortInUse) {
			d.stop()
			continue
		}
		t.Cleanup(d.stop)
		if err != nil {
			t.Fatalf("testpeer: %s: %v", name, err)
		}
		return addr, d
	}
	t.Fatalf("testpeer: %s: no free port after %d attempts", name, attempts)
	return "", nil
}
