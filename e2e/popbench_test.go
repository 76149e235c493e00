package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/popgate/popgate/loadgen"
)

// popbenchRun is cmd/popbench running in the background.
type popbenchRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

// startPopbench runs popbench against addr with one client per user
// load1..loadN (password uidlPassword) and the extra flags, and returns at
// once; wait collects its JSON report.
func startPopbench(t *testing.T, addr string, users int, flags ...string) *popbenchRun {
	t.Helper()
	args := append([]string{"-json", "-addr", addr, "-user", "load%d", "-nusers", strconv.Itoa(users),
		"-clients", strconv.Itoa(users), "-pass", uidlPassword, "-timeout", "10s"}, flags...)
	r := &popbenchRun{cmd: exec.Command(buildCommand(t, "popbench"), args...), done: make(chan error, 1)}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// wait waits for popbench to end and returns its report. A run in which no
// session succeeded exits 1 and still reports.
func (r *popbenchRun) wait(t *testing.T) *loadgen.Report {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
			t.Fatalf("popbench: %v\n%s", err, r.stderr.Bytes())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("popbench did not end")
	}
	var rep loadgen.Report
	if err := json.Unmarshal(r.stdout.Bytes(), &rep); err != nil {
		t.Fatalf("popbench report: %v\n%s%s", err, r.stdout.Bytes(), r.stderr.Bytes())
	}
	return &rep
}
