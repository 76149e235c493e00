package testpeer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Getmail fetches all messages once with getmail6; see NewGetmail.
func Getmail(t testing.TB, addr, user, pass string) []Message {
	t.Helper()
	return NewGetmail(t, addr, user, pass).Poll()
}

// NewGetmail returns a getmail6 client (SimplePOP3Retriever, read_all off,
// delete off, its own getmail directory for the "oldmail" state),
// delivering through MDA_external to a script that stores each message.
//
// What getmail changes: line ends become LF; it removes the message's own
// Return-Path fields and prepends one line "Return-Path: <...>", which is
// stripped here. It replaces "/" in UIDLs with "-" (so does Message.UIDL),
// and refuses maildrops whose UIDLs are not unique.
func NewGetmail(t testing.TB, addr, user, pass string) *Poller {
	t.Helper()
	return NewGetmailWith(t, addr, user, pass, GetmailOptions{})
}

// GetmailOptions are getmail's [options] that change what a poll fetches.
type GetmailOptions struct {
	ReadAll bool // read_all: fetch every message each poll, seen or not
	Delete  bool // delete: delete each message after delivering it
}

// NewGetmailWith is NewGetmail with options.
func NewGetmailWith(t testing.TB, addr, user, pass string, o GetmailOptions) *Poller {
	t.Helper()
	c := newMDAClient(t, "getmail", addr)
	if strings.ContainsAny(user+pass, "\n%") {
		t.Fatalf("testpeer: getmail: user and password may not contain '%%' or newlines")
	}
	c.poll = func(ctx context.Context, outDir string) ([]Message, error) {
		host, port := c.hostPort()
		rc := filepath.Join(c.dir, "getmailrc")
		msgLog := filepath.Join(outDir, "message.log")
		conf := fmt.Sprintf("[retriever]\ntype = SimplePOP3Retriever\nserver = %s\nport = %s\n"+
			"username = %s\npassword = %s\n\n"+
			"[destination]\ntype = MDA_external\npath = %s\narguments = (%q,)\nallow_root_commands = true\n\n"+
			"[options]\nread_all = %t\ndelete = %t\ndelivered_to = false\nreceived = false\n"+
			"message_log = %s\nverbose = 0\n",
			host, port, user, pass, c.mda, filepath.Join(outDir, "mail"), o.ReadAll, o.Delete, msgLog)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		if err := os.Mkdir(filepath.Join(outDir, "mail"), 0o700); err != nil {
			return nil, err
		}
		if err := keepOldmail(c.dir, host, port, user); err != nil {
			return nil, err
		}
		if _, err := run(ctx, c.dir, nil, c.bin, "--getmaildir", c.dir, "--rcfile", rc); err != nil {
			return nil, err
		}
		uidls, err := getmailDelivered(msgLog)
		if err != nil {
			return nil, err
		}
		bodies, err := readDelivered(filepath.Join(outDir, "mail"))
		if err != nil {
			return nil, err
		}
		if len(bodies) != len(uidls) {
			return nil, fmt.Errorf("getmail logged %d deliveries but delivered %d", len(uidls), len(bodies))
		}
		msgs := make([]Message, len(bodies))
		for i, b := range bodies {
			msgs[i] = Message{UIDL: uidls[i], Body: stripReturnPath(b)}
		}
		return msgs, nil
	}
	return c.Poller
}

// getmailDelivered reads the UIDLs of delivered messages, in order, from
// getmail's message log ("msg 1/6 (175 bytes) msgid UIDL ... delivered to").
func getmailDelivered(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var uidls []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if !strings.Contains(sc.Text(), " delivered to ") {
			continue
		}
		for i := range f[:len(f)-1] {
			if f[i] == "msgid" {
				uidls = append(uidls, f[i+1])
				break
			}
		}
	}
	return uidls, sc.Err()
}

// stripReturnPath removes the one header line getmail prepends.
func stripReturnPath(msg []byte) []byte {
	if !bytes.HasPrefix(msg, []byte("Return-Path: ")) {
		return msg
	}
	if _, rest, ok := bytes.Cut(msg, []byte("\n")); ok {
		return rest
	}
	return msg
}

// keepOldmail carries getmail's record of seen messages over to the
// server at host:port. getmail names the record after the server's
// address (oldmail-HOST-PORT-USER); a client pointed at one of several
// instances (SetAddr) stands for one that reaches them all under one name,
// as behind a balancer, so it keeps what it has seen.
func keepOldmail(dir, host, port, user string) error {
	want := filepath.Join(dir, "oldmail-"+host+"-"+port+"-"+user)
	old, err := filepath.Glob(filepath.Join(dir, "oldmail-*"))
	if err != nil || len(old) != 1 || old[0] == want {
		return err
	}
	return os.Rename(old[0], want)
}
