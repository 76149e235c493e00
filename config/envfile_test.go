package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWithEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "popgate.env")
	content := "# comment\n; also a comment\n\nPOPGATE_THROTTLE_AUTH_FAIL_LIMIT=3\nPOPGATE_HOSTNAME=\"pop.example.org\"\n POPGATE_LISTEN = '127.0.0.1:1110'\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := WithEnvFile([]string{"POPGATE_HOSTNAME=old", EnvFileVar + "=" + path})
	want := []string{"POPGATE_HOSTNAME=old", EnvFileVar + "=" + path,
		"POPGATE_THROTTLE_AUTH_FAIL_LIMIT=3", "POPGATE_HOSTNAME=pop.example.org", "POPGATE_LISTEN=127.0.0.1:1110"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("WithEnvFile = %q, %v; want %q", got, err, want)
	}
	c, err := Load(got)
	if err != nil || c.Hostname != "pop.example.org" {
		t.Errorf("the file's value does not win: %q %v", c.Hostname, err)
	}
	if err := os.WriteFile(path, []byte("POPGATE_X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WithEnvFile([]string{EnvFileVar + "=" + path}); err == nil || !strings.Contains(err.Error(), "line 1: want NAME=VALUE") {
		t.Errorf("bad line: %v", err)
	}
	if _, err := WithEnvFile([]string{EnvFileVar + "=" + path + ".missing"}); err == nil || !strings.Contains(err.Error(), EnvFileVar) {
		t.Errorf("missing file: %v", err)
	}
}
