package auth

import (
	"os/exec"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// requireTool returns the path of a password-hashing program. A missing one
// skips the test, or fails it under CI=true, as testpeer does for peers.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testpeer.Unavailable(t, "%s not found (install it with %q)", name, "apt-get install "+pkg)
	}
	return path
}

// runTool runs a hashing program and returns its output without the final
// newline.
func runTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", path, args, err)
	}
	if n := len(out); n > 0 && out[n-1] == '\n' {
		out = out[:n-1]
	}
	return string(out)
}
