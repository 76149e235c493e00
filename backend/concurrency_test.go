package backend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// The helper process roles of TestDeliveryDuringSessions.
const helperEnv = "POPGATE_BACKEND_HELPER"

// deliveredMsg is message i as the test's delivery agent writes it; every
// few messages carry a long line and a body line that starts with "From ".
func deliveredMsg(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From mda@test Sun Nov 29 02:%02d:%02d 2026\n", i/60%60, i%60)
	fmt.Fprintf(&b, "Received: by test; %d\nMessage-ID: <m%d@test>\nSubject: message %d\n\n", i, i, i)
	fmt.Fprintf(&b, "body of %d\n", i)
	if i%7 == 0 {
		b.WriteString("From the middle of a paragraph\n")
		b.WriteString(strings.Repeat("x", 9000+i) + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

var msgIDRe = regexp.MustCompile(`Message-ID: <m(\d+)@test>`)

// TestHelperProcess is not a test: it is the delivery agent or a POP
// session of TestDeliveryDuringSessions, run in a child process so it can
// be killed for real and so its fcntl locks are another process's.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("helper process only")
	}
	path := os.Getenv("POPGATE_SPOOL")
	var err error
	switch role {
	case "deliver":
		from, _ := strconv.Atoi(os.Getenv("POPGATE_FROM"))
		to, _ := strconv.Atoi(os.Getenv("POPGATE_TO"))
		err = deliver(path, from, to)
	case "session":
		err = session(path, os.Getenv("POPGATE_DATA"))
	}
	if err != nil {
		fmt.Fprintln(os.Stdout, "ERROR", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// deliver appends messages the way a Debian MDA does: open for append,
// dotlock, fcntl lock, check that the file locked is still the spool,
// write, fsync, unlock.
func deliver(path string, from, to int) error {
	for i := from; i < to; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f, l, err := lock.OpenSpool(ctx, path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 10*time.Second)
		cancel()
		if err != nil {
			return err
		}
		_, err = f.WriteString(deliveredMsg(i))
		if err == nil {
			err = f.Sync()
		}
		l.Release()
		f.Close()
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	}
	return nil
}

// session retrieves every message, deletes about half, and commits,
// printing what it did line by line (unbuffered, so a kill loses nothing
// that happened).
func session(path, data string) error {
	dir, user := filepath.Dir(path), filepath.Base(path)
	b, err := New(Options{Name: "native", Kind: KindMbox, PathPattern: dir + "/%u", UIDL: uidl.Native,
		Auth: stubAuth{}, DataDir: data, LockTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := open(b, user)
	if pop3.CodeOf(err) == pop3.CodeInUse {
		fmt.Fprintln(os.Stdout, "INUSE")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, "OPEN")
	ctx := context.Background()
	list, err := m.List(ctx, 0)
	if err != nil {
		return err
	}
	for _, mi := range list {
		rc, err := m.Retr(ctx, mi.Num)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		id := msgIDRe.FindSubmatch(body)
		if id == nil || int64(len(body)) != mi.Size {
			return fmt.Errorf("message %d: %d bytes, LIST said %d: %.80q", mi.Num, len(body), mi.Size, body)
		}
		n, _ := strconv.Atoi(string(id[1]))
		want := strings.ReplaceAll(deliveredMsg(n), "\n", "\r\n")
		want = want[strings.Index(want, "\r\n")+2 : len(want)-2] // no From_ line, no separator
		if string(body) != want {
			return fmt.Errorf("message %d (m%d) corrupted", mi.Num, n)
		}
		if rand.IntN(2) == 0 {
			m.Dele(ctx, mi.Num)
			fmt.Fprintf(os.Stdout, "DELE %d\n", n)
		}
	}
	fmt.Fprintln(os.Stdout, "UPDATE")
	if _, err := m.Update(ctx); err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, "COMMITTED")
	return nil
}

type sessionLog struct {
	deleted   []int
	committed bool
	killed    bool
	inUse     bool // refused: another session held the maildrop
	inUpdate  bool // killed after UPDATE started
	retrieved bool // got as far as one DELE
}

// Where runSession kills a session process.
const (
	noKill         = iota
	killRetrieving // at a random point after it opened the maildrop
	killUpdating   // within a few milliseconds after UPDATE began
)

// runSession runs one session process and kills it as kill says.
func runSession(ctx context.Context, t *testing.T, path, data string, kill int) sessionLog {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=session", "POPGATE_SPOOL="+path, "POPGATE_DATA="+data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log sessionLog
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out []string
	for line := range lines {
		out = append(out, line)
		switch {
		case line == "OPEN" && kill == killRetrieving:
			killIn(ctx, cmd, time.Duration(rand.IntN(40000))*time.Microsecond)
		case line == "INUSE":
			log.inUse = true
		case strings.HasPrefix(line, "DELE "):
			n, _ := strconv.Atoi(line[5:])
			log.deleted = append(log.deleted, n)
			log.retrieved = true
		case line == "UPDATE":
			log.inUpdate = true
			if kill == killUpdating {
				killIn(ctx, cmd, time.Duration(rand.IntN(3000))*time.Microsecond)
			}
		case line == "COMMITTED":
			log.committed = true
		case strings.HasPrefix(line, "ERROR"):
			t.Errorf("session: %s", line)
		}
	}
	err = cmd.Wait()
	log.killed = err != nil && strings.Contains(err.Error(), "killed")
	if err != nil && !log.killed {
		t.Errorf("session failed: %v\n%s", err, strings.Join(out, "\n"))
	}
	return log
}

func killIn(ctx context.Context, cmd *exec.Cmd, d time.Duration) {
	go func() {
		select {
		case <-time.After(d):
			cmd.Process.Kill()
		case <-ctx.Done():
		}
	}()
}

// A delivery agent appends hundreds of messages while sessions retrieve and
// delete, some killed at random points; afterwards every message is either
// deleted by a session or still in the mailbox exactly once, intact.
func TestDeliveryDuringSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const total = 300
	dir, data := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "rachel")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	mda := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	mda.Env = append(os.Environ(), helperEnv+"=deliver", "POPGATE_SPOOL="+path, "POPGATE_FROM=0", "POPGATE_TO="+strconv.Itoa(total))
	var mdaOut bytes.Buffer
	mda.Stdout, mda.Stderr = &mdaOut, &mdaOut
	if err := mda.Start(); err != nil {
		t.Fatal(err)
	}
	mdaDone := make(chan error, 1)
	go func() { mdaDone <- mda.Wait() }()

	// Two session processes at a time: besides delivery, they race each
	// other for the maildrop, and the loser must get IN-USE.
	var (
		mu         sync.Mutex
		logs       []sessionLog
		delivering atomic.Bool
		wg         sync.WaitGroup
	)
	delivering.Store(true)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for delivering.Load() {
				l := runSession(ctx, t, path, data, rand.IntN(3))
				mu.Lock()
				logs = append(logs, l)
				mu.Unlock()
			}
		}()
	}
	if err := <-mdaDone; err != nil {
		t.Errorf("delivery agent: %v\n%s", err, mdaOut.String())
	}
	delivering.Store(false)
	wg.Wait()
	logs = append(logs, runSession(ctx, t, path, data, noKill)) // a clean last session

	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := mbox.Parse(bytes.NewReader(content), 0, mbox.Config{Scheme: uidl.Native})
	if err != nil || res.Preamble != 0 {
		t.Fatalf("final mailbox: %v, preamble %d", err, res.Preamble)
	}
	present := map[int]int{}
	for _, m := range res.Msgs {
		raw := string(content[m.From:m.End])
		id := msgIDRe.FindStringSubmatch(raw)
		if id == nil {
			t.Fatalf("final mailbox holds an unknown message: %.100q", raw)
		}
		n, _ := strconv.Atoi(id[1])
		if raw != deliveredMsg(n) {
			t.Fatalf("m%d corrupted in the final mailbox", n)
		}
		present[n]++
	}
	deletedBy := map[int]int{}  // committed sessions
	maybeGone := map[int]bool{} // killed sessions
	killed, committed, midSession, midUpdate, inUse := 0, 0, 0, 0, 0
	for _, l := range logs {
		if l.inUse {
			inUse++
		}
		if l.killed {
			killed++
			if l.inUpdate && !l.committed {
				midUpdate++
			} else if l.retrieved {
				midSession++
			}
		}
		if l.committed {
			committed++
		}
		for _, n := range l.deleted {
			if l.committed {
				deletedBy[n]++
			} else {
				maybeGone[n] = true
			}
		}
	}
	for n := range total {
		switch {
		case present[n] > 1:
			t.Errorf("m%d is in the mailbox %d times", n, present[n])
		case deletedBy[n] > 1:
			t.Errorf("m%d was retrieved and deleted by %d sessions", n, deletedBy[n])
		case present[n] == 1 && deletedBy[n] == 1:
			t.Errorf("m%d was deleted at a committed UPDATE but is still there", n)
		case present[n] == 0 && deletedBy[n] == 0 && !maybeGone[n]:
			t.Errorf("m%d was lost", n)
		}
	}
	t.Logf("%d messages, %d sessions (%d refused IN-USE; %d killed: %d while retrieving, %d in UPDATE; %d committed), %d left",
		total, len(logs), inUse, killed, midSession, midUpdate, committed, len(res.Msgs))
	if committed < 2 {
		t.Errorf("only %d sessions committed: the test exercised too little", committed)
	}
}
