package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/logtest"
	"github.com/popgate/popgate/loadgen"
)

// buildPopgate compiles the popgate binary into a temporary directory.
func buildPopgate(t *testing.T) string {
	t.Helper()
	return buildCommand(t, "popgate")
}

// buildCommand builds ./cmd/NAME into a temporary directory.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// popgateProc is one popgate process with its log lines.
type popgateProc struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	lines   []map[string]any
	bad     []string // lines that did not decode strictly
	started chan struct{}
	done    chan error
}

// startActivated runs bin the way systemd runs a socket-activated service:
// the listening socket is fd 3, LISTEN_FDS=1, LISTEN_FDNAMES=plain, and
// LISTEN_PID is the process's own pid (set by the shell that execs it).
func startActivated(t *testing.T, bin string, sock *os.File, env []string) *popgateProc {
	t.Helper()
	return startActivatedAs(t, bin, sock, env, nil)
}

// startActivatedAs is startActivated running popgate as cred (nil: the
// test's user).
func startActivatedAs(t *testing.T, bin string, sock *os.File, env []string, cred *syscall.Credential) *popgateProc {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=plain exec "$0"`, bin)
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	return runPopgate(t, cmd)
}

// runPopgate starts cmd (popgate, logging JSON to its standard output) and
// waits until it has started. It is killed when the test ends.
func runPopgate(t *testing.T, cmd *exec.Cmd) *popgateProc {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	p := &popgateProc{cmd: cmd, started: make(chan struct{}), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m, err := logtest.DecodeStrict(sc.Bytes())
			if err != nil {
				p.mu.Lock()
				p.bad = append(p.bad, fmt.Sprintf("%q: %v", sc.Bytes(), err))
				p.mu.Unlock()
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, m)
			p.mu.Unlock()
			if m["msg"] == "popgate started" {
				close(p.started)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		p.done <- nil
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, b := range p.bad {
			t.Errorf("log line does not decode strictly: %s", b)
		}
	})
	select {
	case <-p.started:
	case err := <-p.done:
		t.Fatalf("popgate exited before starting: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("popgate did not start")
	}
	return p
}

// count returns the number of log lines with msg and, if key is set,
// key=value.
func (p *popgateProc) count(msg, key, value string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.lines {
		if m["msg"] == msg && (key == "" || m[key] == value) {
			n++
		}
	}
	return n
}

// notOK returns the session lines whose result is not ok.
func (p *popgateProc) notOK() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, m := range p.lines {
		if m["msg"] == "session" && m["result"] != "ok" {
			out = append(out, m)
		}
	}
	return out
}

// stop sends SIGTERM and waits for a clean exit.
func (p *popgateProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("popgate exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("popgate did not stop after SIGTERM")
	}
}

// TestRestartUnderLoadDropsNoSession replaces a running popgate with a
// new process while a load runs, as systemd does with socket activation:
// the listening socket outlives both processes, the old one stops
// accepting and drains on SIGTERM, and connections that arrive before the
// new one is up wait in the socket's backlog instead of being refused.
func TestRestartUnderLoadDropsNoSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPopgate(t)
	dir := t.TempDir()
	var users strings.Builder
	var creds []loadgen.Credential
	for i := range 4 {
		u := fmt.Sprintf("user%d", i)
		fmt.Fprintf(&users, "%s:{PLAIN}pw%d\n", u, i)
		creds = append(creds, loadgen.Credential{User: u, Password: fmt.Sprintf("pw%d", i)})
		if err := loadgen.WriteMaildir(filepath.Join(dir, "mail", u), u, 5, loadgen.Sizes{Min: 500, Max: 4000}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	addr, sock := activationSocket(t)
	env := append(nativeGateEnv(addr, "maildir://"+dir+"/mail/%u", filepath.Join(dir, "users"), filepath.Join(dir, "data")),
		"POPGATE_DRAIN_TIMEOUT=10s")

	old := startActivated(t, bin, sock, env)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		r   *loadgen.Report
		err error
	}
	res := make(chan result, 1)
	go func() {
		r, err := loadgen.Run(ctx, loadgen.Options{
			Addr: addr, Users: creds, Clients: 4,
			Duration: 8 * time.Second, Sessions: 200000,
			Script:  []loadgen.Step{{Op: "STAT"}, {Op: "UIDL"}, {Op: "RETR", Count: 2}},
			Timeout: 20 * time.Second,
		})
		res <- result{r, err}
	}()

	waitSessions(t, old, 20)
	old.stop(t)
	replacement := startActivated(t, bin, sock, env)
	waitSessions(t, replacement, 20)

	var out result
	select {
	case out = <-res:
	case <-time.After(60 * time.Second):
		t.Fatal("the load did not end")
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	r := out.r
	if r.Failed != 0 || r.OK < 40 {
		t.Errorf("load: %d ok, %d failed, errors %v", r.OK, r.Failed, r.Errors)
	}
	if n := old.count("session", "result", "ok"); n == 0 {
		t.Error("the old process served no session")
	}
	if n := old.count("popgate stopped", "", ""); n != 1 {
		t.Error("the old process did not stop cleanly")
	}
	// The end of the load cuts the replacement's last sessions short; the
	// old process must have finished every one it took.
	if n := old.count("session", "", "") - old.count("session", "result", "ok"); n != 0 {
		t.Errorf("%d of the old process's sessions did not end ok:\n%v", n, old.notOK())
	}
	replacement.stop(t)
	t.Logf("%d sessions, %d by the old process", r.OK, old.count("session", "result", "ok"))
}

// activationSocket listens on a free loopback port and returns its address
// and the listening socket to pass to popgate: the test holds it, as a
// systemd socket unit would, so it outlives every popgate process.
func activationSocket(t *testing.T) (string, *os.File) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sock, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	return l.Addr().String(), sock
}

// nativeGateEnv is popgate's environment for one native backend at
// backendURL, listening on addr, without the admin listener.
func nativeGateEnv(addr, backendURL, usersFile, dataDir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"POPGATE_LISTEN=" + addr,
		"POPGATE_ADMIN_LISTEN=off",
		"POPGATE_BACKENDS=native=" + backendURL,
		"POPGATE_USERS_FILE=" + usersFile,
		"POPGATE_DATA_DIR=" + dataDir,
	}
}

// waitSessions waits until p has logged n successful sessions.
func waitSessions(t *testing.T, p *popgateProc, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.count("session", "result", "ok") < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d sessions served", p.count("session", "result", "ok"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
