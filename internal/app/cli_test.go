package app

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A configuration that does not load: help must not need it.
var brokenConfig = []string{"LISTN=127.0.0.1:110"}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"serve", "--help"}, {"serve", "-h"}, {"check-config", "--help"},
		{"routes", "--help"}, {"routes", "check", "-h"}, {"throttle", "show", "--help"},
		{"health", "-h"}, {"uidl", "--help"}, {"uidl", "-h"}, {"uidl", "import", "--help"},
		{"uidl", "show", "-h"}, {"uidl", "verify", "--help"},
	} {
		code, out, errOut := runCmd(t, brokenConfig, args...)
		if code != exitOK || !strings.Contains(out, "sage") || errOut != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and usage", args, code, out, errOut)
		}
	}
	for _, v := range []string{"--version", "-version", "version"} {
		if code, out, _ := runCmd(t, brokenConfig, v); code != exitOK || !strings.HasPrefix(out, "popgate ") {
			t.Errorf("%s: exit %d, %q", v, code, out)
		}
	}
}

func TestUnknownFlagsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--verbose"}, "unknown flag --verbose"},
		{[]string{"serve", "-x"}, "popgate serve: unknown flag -x"},
		{[]string{"check-config", "--strict"}, "popgate check-config: unknown flag --strict"},
		{[]string{"routes", "check", "f", "-q"}, "popgate routes: unknown flag -q"},
		{[]string{"uidl", "import", "-frob", "x"}, "popgate uidl: import: flag provided but not defined: -frob"},
		{[]string{"uidl", "import", "p", "-scheme", "nope"}, `unknown`},
		{[]string{"uidl", "verify", "a", "b"}, "verify needs one USER"},
		{[]string{"uidl", "frob"}, `unknown command "frob"`},
	} {
		code, _, errOut := runCmd(t, brokenConfig, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args, pos []string
		scheme    string
	}{
		{[]string{"PATH", "-scheme", "xuidl"}, []string{"PATH"}, "xuidl"},
		{[]string{"-scheme", "xuidl", "PATH"}, []string{"PATH"}, "xuidl"},
		{[]string{"a", "--scheme=xuidl", "b"}, []string{"a", "b"}, "xuidl"},
		{[]string{"a", "--", "-scheme", "x"}, []string{"a", "-scheme", "x"}, "auto"},
	} {
		fs := newFlags("t")
		scheme := fs.String("scheme", "auto", "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || *scheme != tc.scheme {
			t.Errorf("%q: %q scheme %q err %v; want %q scheme %q", tc.args, pos, *scheme, err, tc.pos, tc.scheme)
		}
	}
	if _, err := parseInterspersed(newFlags("t"), []string{"x", "--help"}); err != flag.ErrHelp {
		t.Errorf("--help after an argument: %v, want flag.ErrHelp", err)
	}
}

// The qpopper guide's import with the flag after the path.
func TestUIDLImportFlagAfterPath(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "bob")
	if err := os.WriteFile(spool, []byte("From a@b Mon Jan  1 00:00:00 2024\nX-UIDL: abcdefghijklmn\nSubject: x\n\nhi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DATA_DIR=" + dir, "BACKENDS=native=mbox://" + dir + "/%u", "LISTEN=127.0.0.1:0"}
	code, out, errOut := runCmd(t, env, "uidl", "import", spool, "-scheme", "xuidl", "-quiet")
	if code != exitOK || !strings.Contains(out, "messages 1, mapped 1") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := runCmd(t, env, "uidl", "show", "bob"); code != exitOK || !strings.Contains(out, "abcdefghijklmn") {
		t.Errorf("show after import: %d %q", code, out)
	}
}
