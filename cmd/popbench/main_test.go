package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestTLSResumeNeedsTLS(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-tls-resume", "-user", "u", "-pass", "p", "-sessions", "1"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "-tls-resume needs -tls") {
		t.Errorf("exit %d, stderr %q; want 2 and the reason", code, errOut.String())
	}
}
