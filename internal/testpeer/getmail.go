package testpeer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
			"username = %s\npassword = %s\ntimeout = %d\n\n"+
			"[destination]\ntype = MDA_external\npath = %s\narguments = (%q,)\nallow_root_commands = true\n\n"+
			"[options]\nread_all = %t\ndelete = %t\ndelivered_to = false\nreceived = false\n"+
			"message_log = %s\nverbose = 0\n",
			host, port, user, pass, int(getmailTimeout.Seconds()), c.mda, filepath.Join(outDir, "mail"), o.ReadAll, o.Delete, msgLog)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		if err := keepOldmail(c.dir, host, port, user); err != nil {
			return nil, err
		}
		if err := runGetmail(ctx, t, c, rc, outDir); err != nil {
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

// getmailTimeout is getmail's retriever timeout: for each socket
// operation, and for getmail's wait for its delivery child (see
// runGetmail). It must leave room for a second try within clientTimeout.
const getmailTimeout = 20 * time.Second

// lostChild is how getmail reports the wait for a delivery child that
// timed out.
var lostChild = regexp.MustCompile(`operation error \(waiting child pid \d+ timed out\)`)

// runGetmail runs one getmail session delivering into outDir/mail, and
// runs it once more if getmail lost its delivery child.
//
// getmail6 (6.18.11) forks the MDA and only then installs its SIGCHLD
// handler, which notifies a Condition that nobody may be waiting on yet:
// when the child exits before the handler is installed, or the handler
// runs before the parent waits, the parent waits out the socket timeout
// with the message already delivered, while the POP3 server waits for the
// next command. On a busy machine this happens after any message, directly
// against a legacy server as well as through popgate; TestGetmailLosesFastChildren
// reproduces it without a network. getmail then aborts the session (no
// QUIT, nothing marked as seen), so the state before the try is restored
// and the poll is run again into an empty directory.
func runGetmail(ctx context.Context, t testing.TB, c mdaClient, rc, outDir string) error {
	mail := filepath.Join(outDir, "mail")
	state, err := snapshotDir(c.dir)
	if err != nil {
		return err
	}
	for try := 1; ; try++ {
		if err := os.Mkdir(mail, 0o700); err != nil {
			return err
		}
		out, err := run(ctx, c.dir, nil, c.bin, "--getmaildir", c.dir, "--rcfile", rc)
		if err == nil || try == 2 || !lostChild.Match(out) {
			return err
		}
		t.Logf("testpeer: getmail lost its delivery child (getmail's SIGCHLD race, see runGetmail); polling again: %s",
			lostChild.Find(out))
		if err := os.RemoveAll(mail); err != nil {
			return err
		}
		_ = os.Remove(filepath.Join(outDir, "message.log"))
		if err := state.restore(); err != nil {
			return err
		}
	}
}

// dirSnapshot is the regular files directly in a directory (getmail's
// "oldmail" state files), to put back after a failed try.
type dirSnapshot struct {
	dir   string
	files map[string][]byte
}

func snapshotDir(dir string) (dirSnapshot, error) {
	s := dirSnapshot{dir: dir, files: map[string][]byte{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), "oldmail-") {
			continue
		}
		if s.files[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s dirSnapshot) restore() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, kept := s.files[e.Name()]; strings.HasPrefix(e.Name(), "oldmail-") && !kept {
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for name, data := range s.files {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
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
