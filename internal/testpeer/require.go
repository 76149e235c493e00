package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Popa3dDir is where .ci/run extracts the popa3d package: it conflicts with
// dovecot-pop3d in apt, so it cannot be installed the ordinary way.
const Popa3dDir = "/opt/popa3d"

// systemDirs are searched before PATH, so that the tests run the Debian
// packages .ci/run installs rather than whatever a PATH puts first (a
// version-manager shim costs a second per start); sbin holds the daemons,
// /usr/lib/dovecot dovecot-lda.
var systemDirs = []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin", Popa3dDir + "/usr/sbin", "/usr/lib/dovecot"}

// installHints say how to get each program onto a Debian machine.
var installHints = map[string]string{
	"dovecot":      "apt-get install dovecot-core dovecot-pop3d",
	"dovecot-lda":  "apt-get install dovecot-core",
	"procmail":     "apt-get install procmail",
	"popa3d":       "apt-get download popa3d && dpkg-deb -x popa3d_*.deb " + Popa3dDir,
	"fetchmail":    "apt-get install fetchmail",
	"mpop":         "apt-get install mpop",
	"getmail":      "apt-get install getmail6",
	"curl":         "apt-get install curl",
	"socat":        "apt-get install socat",
	"python3":      "apt-get install python3",
	"openssl":      "apt-get install openssl",
	"htpasswd":     "apt-get install apache2-utils",
	"mkpasswd":     "apt-get install whois",
	"redis-server": "apt-get install redis-server",
	"haproxy":      "apt-get install haproxy",
}

// InCI reports whether the tests run in CI, where a missing peer is a
// failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the absolute path of program. If it is not installed the
// test is skipped, or fails when CI=true.
func Require(t testing.TB, program string) string {
	t.Helper()
	if path, err := lookPath(program); err == nil {
		return path
	}
	hint := installHints[program]
	if hint == "" {
		hint = "apt-get install " + program
	}
	Unavailable(t, "%s not found (install it with %q, or run .ci/run as root)", program, hint)
	return ""
}

// Unavailable skips the test with the reason, or fails it when CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("testpeer: "+format, args...)
	}
	t.Skipf("testpeer: "+format, args...)
}

// RequireRoot skips (or fails in CI) unless the test runs as root, which
// peers that need system users or chroot do.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "%s needs root", why)
	}
}

func lookPath(program string) (string, error) {
	for _, dir := range systemDirs {
		path := filepath.Join(dir, program)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	path, err := exec.LookPath(program)
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}
