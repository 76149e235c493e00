package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the program with args and POPGATE_ variables (NAME=value,
// prefix omitted) and returns its exit code and output.
func runCmd(t *testing.T, vars []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	environ := []string{"HOME=/nonexistent"}
	for _, v := range vars {
		environ = append(environ, "POPGATE_"+v)
	}
	var out, errOut bytes.Buffer
	code = Run(context.Background(), append([]string{"popgate"}, args...), environ, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckConfigPrintsRedactedConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, []string{
		"BACKENDS=legacy=pop3://127.0.0.1:11110?max_sessions=4,native=maildir://" + dir + "/mail/%u",
		"DEFAULT_BACKEND=legacy",
		"DATA_DIR=" + dir,
		"STORE=bolt://" + dir,
	}, "check-config")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"POPGATE_LISTEN=127.0.0.1:1110\n",
		"POPGATE_BACKENDS=legacy=pop3://127.0.0.1:11110?max_sessions=4,native=maildir://" + dir + "/mail/%u\n",
		"POPGATE_DEFAULT_BACKEND=legacy\n",
		"POPGATE_IDLE_TIMEOUT=10m0s\n",
		"# configuration OK\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckConfigReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	routesFile := filepath.Join(dir, "routes")
	if err := os.WriteFile(routesFile, []byte("alice nowhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, []string{
		// max_sessions is checked by config, proxy_protocol by the upstream
		// package, uidl by the native one.
		"BACKENDS=legacy=pop3://127.0.0.1:11110?proxy_protocol=v1,native=maildir:///srv/%u?uidl=bogus&max_sessions=lots",
		"DEFAULT_BACKEND=legacy",
		"IDLE_TIMEOUT=1m",
		"ROUTES=" + routesFile,
		"TLS_CERT=" + filepath.Join(dir, "absent.pem"),
		"TLS_KEY=" + filepath.Join(dir, "absent.key"),
		"TLS_ALT_CERT=" + filepath.Join(dir, "absent-rsa.pem"),
		"TLS_ALT_KEY=" + filepath.Join(dir, "absent-rsa.key"),
		"DATA_DIR=" + dir,
	}, "check-config")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{
		"POPGATE_IDLE_TIMEOUT: 1m0s is too short: RFC 1939",
		"POPGATE_BACKENDS: upstream legacy: ",
		"proxy_protocol",
		`POPGATE_BACKENDS: backend native: parameter max_sessions="lots"`,
		"POPGATE_BACKENDS: backend native: ",
		"uidl",
		"POPGATE_ROUTES: " + routesFile + `:1: unknown backend "nowhere"`,
		"POPGATE_TLS_CERT: loading the key pair",
		"POPGATE_TLS_ALT_CERT: loading the key pair",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "POPGATE_IDLE_TIMEOUT=1m0s") {
		t.Errorf("the configuration was not printed:\n%s", out)
	}
}

func TestCheckConfigParseErrors(t *testing.T) {
	code, out, errOut := runCmd(t, []string{"LISTEN=nowhere", "LOG_LEVEL=loud"}, "check-config")
	if code != exitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "POPGATE_LISTEN: ") || !strings.Contains(errOut, "POPGATE_LOG_LEVEL: ") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestCheckConfigRedactsPasswords(t *testing.T) {
	_, out, errOut := runCmd(t, []string{
		"BACKENDS=legacy=pop3://svc:hunter2@127.0.0.1:110",
	}, "check-config")
	if strings.Contains(out+errOut, "hunter2") {
		t.Errorf("password shown:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(out, "svc:xxxxx@") {
		t.Errorf("redacted URL missing:\n%s", out)
	}
}

func TestRoutesCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("# wave 1\nalice native\n*@example.org legacy\n"), 0o600)
	os.WriteFile(bad, []byte("alice native\nbob other\n"), 0o600)
	vars := []string{"BACKENDS=legacy=pop3://127.0.0.1:110,native=maildir:///srv/%u", "DEFAULT_BACKEND=legacy"}

	code, out, errOut := runCmd(t, vars, "routes", "check", good)
	if code != exitOK || !strings.Contains(out, "2 rules OK") {
		t.Errorf("good file: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCmd(t, vars, "routes", "check", bad)
	if code != exitUsage || !strings.Contains(errOut, bad+`:2: unknown backend "other"`) {
		t.Errorf("bad file: exit %d\n%s", code, errOut)
	}
	code, _, _ = runCmd(t, vars, "routes", "check", filepath.Join(dir, "absent"))
	if code == exitOK {
		t.Error("a missing file checked OK")
	}
}

func TestSubcommands(t *testing.T) {
	if code, out, _ := runCmd(t, nil, "version"); code != exitOK || !strings.HasPrefix(out, "popgate ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, nil, "help"); code != exitOK || !strings.Contains(out, "routes check FILE") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, _, errOut := runCmd(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t, nil, "routes", "list"); code != exitUsage {
		t.Errorf("routes list: %d", code)
	}
	if code, _, _ := runCmd(t, nil, "serve", "extra"); code != exitUsage {
		t.Errorf("serve extra: %d", code)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	code, out, errOut := runCmd(t, []string{"IDLE_TIMEOUT=1s"})
	if code != exitUsage || !strings.Contains(errOut, "POPGATE_IDLE_TIMEOUT") || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
