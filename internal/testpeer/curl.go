package testpeer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Curl fetches all messages once with curl; see NewCurl.
func Curl(t testing.TB, addr, user, pass string) []Message {
	t.Helper()
	return NewCurl(t, addr, user, pass).Poll()
}

// NewCurl returns a curl pop3:// client. Each poll runs "curl -X UIDL" and
// then one curl that retrieves every unseen message (RETR n) over one
// connection; the seen UIDLs are kept in memory. curl logs in with AUTH PLAIN when the server offers SASL PLAIN.
//
// What curl changes: nothing known; Body is the RETR data with CRLF line
// ends, dot-stuffing undone.
func NewCurl(t testing.TB, addr, user, pass string) *Poller {
	t.Helper()
	bin := Require(t, "curl")
	p := newPoller(t, "curl")
	seen := map[string]bool{}
	base := "pop3://" + addr + "/"
	cred := filepath.Join(p.dir, "config")
	// The credentials go in a config file, not on the command line.
	conf := fmt.Sprintf("user = %q\n", user+":"+pass)
	if err := os.WriteFile(cred, []byte(conf), 0o600); err != nil {
		t.Fatalf("testpeer: curl: %v", err)
	}
	curl := func(ctx context.Context, args ...string) ([]byte, error) {
		args = append([]string{"-q", "--config", cred, "--silent", "--show-error", "--max-time", "30"}, args...)
		return run(ctx, p.dir, nil, bin, args...)
	}
	p.poll = func(ctx context.Context, outDir string) ([]Message, error) {
		listing, err := curl(ctx, "-X", "UIDL", base)
		if err != nil {
			return nil, err
		}
		var msgs []Message
		var nums, args []string
		for _, line := range strings.Split(string(listing), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if len(f) != 2 {
				return nil, fmt.Errorf("curl: bad UIDL line %q", line)
			}
			if _, err := strconv.Atoi(f[0]); err != nil || seen[f[1]] {
				continue
			}
			msgs = append(msgs, Message{UIDL: f[1]})
			nums = append(nums, f[0])
			args = append(args, "-o", filepath.Join(outDir, f[0]), base+f[0])
		}
		if len(msgs) == 0 {
			return nil, nil
		}
		// One curl for all messages: it reuses the connection, so this is
		// one POP3 session, as a mail client's poll would be.
		if _, err := curl(ctx, args...); err != nil {
			return nil, err
		}
		for i := range msgs {
			body, err := os.ReadFile(filepath.Join(outDir, nums[i]))
			if err != nil {
				return nil, err
			}
			msgs[i].Body = body
			seen[msgs[i].UIDL] = true
		}
		return msgs, nil
	}
	return p
}
