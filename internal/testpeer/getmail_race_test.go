package testpeer

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestGetmailLosesFastChildren shows the getmail bug that runGetmail works
// around: a delivery child that has exited by the time getmail installs its
// SIGCHLD handler is waited for until the timeout. If a getmail release
// fixes it, this test fails, and runGetmail's retry can go.
func TestGetmailLosesFastChildren(t *testing.T) {
	Require(t, "getmail")
	python := Require(t, "python3")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const tries = 3
	for range tries {
		out, err := exec.CommandContext(ctx, python, "testdata/getmail_fork_race.py", "0.2").Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !strings.Contains(string(out), "lost: waiting child pid") || !strings.Contains(string(out), "timed out") {
			t.Fatalf("getmail noticed a child that exited before it waited (fixed?): %s", out)
		}
	}
}
