package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/uidl"
)

const (
	// deliveriesPerAgent is how many messages each delivery agent stores.
	deliveriesPerAgent = 500
	// deliveryBudget bounds the delivery phase: a lock-order deadlock makes
	// deliveries wait for popgate's lock_timeout, and the test must still end.
	deliveryBudget = 150 * time.Second
	// maxDeliveryWait is the longest one delivery may take. A delivery waits
	// for popgate only while it holds the spool lock to index or rewrite a
	// small spool, or until a restarted popgate breaks the dotlock of the
	// process the test killed; procmail retries a dotlock once a second
	// (LOCKSLEEP=1). A lock-order deadlock lasts popgate's lock_timeout, 10 s.
	maxDeliveryWait = 5 * time.Second
)

// TestNativeMboxDeliveryAgentsAndKills runs popgate's native mbox backend
// while three real delivery agents, each taking the spool's locks its own
// way, deliver continuously into their own user's spool: dovecot-lda (fcntl,
// then dotlock), procmail (dotlock, then fcntl) and a Python mailbox.mbox
// that keeps the spool open across deliveries (fcntl, then dotlock, on the
// already open file). See runDeliveryAgentsAndKills.
func TestNativeMboxDeliveryAgentsAndKills(t *testing.T) {
	runDeliveryAgentsAndKills(t, mboxStore)
}

// TestNativeMaildirDeliveryAgentsAndKills is the same with the native
// Maildir backend: the same agents write each message to tmp/ and rename it
// into new/, while popgate moves messages to cur/ and unlinks the deleted
// ones.
func TestNativeMaildirDeliveryAgentsAndKills(t *testing.T) {
	runDeliveryAgentsAndKills(t, maildirStore)
}

// deliveryStore is the kind of maildrop the agents deliver into.
type deliveryStore struct {
	scheme string // of the backend URL
	// create makes the empty maildrop name in dir and returns the path
	// the agents deliver to.
	create func(t *testing.T, dir, name string, owner *testpeer.SystemUser) string
	// read returns every message in the maildrop at path.
	read func(t *testing.T, path string) []storedMsg
}

// storedMsg is one message as found in a maildrop, and where.
type storedMsg struct {
	where   string
	content []byte
}

var mboxStore = deliveryStore{
	scheme: "mbox",
	create: func(t *testing.T, dir, name string, owner *testpeer.SystemUser) string {
		spool := filepath.Join(dir, name)
		if err := os.WriteFile(spool, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if owner != nil {
			owner.Chown(t, owner.GID, spool)
		}
		return spool
	},
	read: func(t *testing.T, spool string) []storedMsg {
		content, err := os.ReadFile(spool)
		if err != nil {
			t.Fatal(err)
		}
		res, err := mbox.Parse(bytes.NewReader(content), 0, mbox.Config{Scheme: uidl.Native})
		if err != nil {
			t.Fatalf("%s: %v", spool, err)
		}
		if res.Preamble != 0 {
			t.Errorf("%s: %d bytes before the first message: %.200q", spool, res.Preamble, content)
		}
		msgs := make([]storedMsg, len(res.Msgs))
		for i, m := range res.Msgs {
			msgs[i] = storedMsg{fmt.Sprintf("offset %d", m.From), content[m.From:m.End]}
		}
		return msgs
	},
}

var maildirStore = deliveryStore{
	scheme: "maildir",
	create: func(t *testing.T, dir, name string, owner *testpeer.SystemUser) string {
		root := filepath.Join(dir, name)
		paths := []string{root}
		for _, sub := range []string{"tmp", "new", "cur"} {
			paths = append(paths, filepath.Join(root, sub))
		}
		for _, p := range paths {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if owner != nil {
			owner.Chown(t, owner.GID, paths...)
		}
		// The trailing slash tells the agents it is a Maildir.
		return root + "/"
	},
	read: func(t *testing.T, root string) []storedMsg {
		var msgs []storedMsg
		for _, sub := range []string{"new", "cur"} {
			ents, err := os.ReadDir(filepath.Join(root, sub))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				where := filepath.Join(sub, e.Name())
				content, err := os.ReadFile(filepath.Join(root, where))
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, storedMsg{where, content})
			}
		}
		return msgs
	},
}

// runDeliveryAgentsAndKills has three real delivery agents deliver
// continuously into their own user's maildrop of kind store while one
// client per user retrieves, deletes and quits through popgate, and popgate
// is SIGKILLed at random moments, half of them right after a client sent
// QUIT so that some land in UPDATE, and restarted on the same socket.
//
// Every message carries a unique id and a checksum of its body. At the end
// each delivered message must be deleted by a session whose QUIT the client
// saw acknowledged, or be in the maildrop exactly once and intact. A message
// deleted in a session whose QUIT was sent but not acknowledged (popgate was
// killed first) may be either; those are counted apart.
func runDeliveryAgentsAndKills(t *testing.T, store deliveryStore) {
	if testing.Short() {
		t.Skip("builds the binary and runs delivery agents")
	}
	base := testpeer.SharedTempDir(t)
	// The agents run as the spools' owner, as an MTA runs them; popgate
	// runs as the test's user (root in CI).
	var owner *testpeer.SystemUser
	if os.Geteuid() == 0 {
		u := testpeer.NewSystemUser(t, "")
		owner = &u
	}
	spools := filepath.Join(base, "spool")
	if err := os.Mkdir(spools, 0o755); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		owner.Chown(t, owner.GID, spools)
	}
	users := []*spoolUser{
		{name: "lda", newAgent: testpeer.DovecotLDA},
		{name: "procmail", newAgent: testpeer.Procmail},
		{name: "py" + store.scheme, newAgent: testpeer.PythonMailbox},
	}
	var usersFile strings.Builder
	for _, u := range users {
		u.spool = store.create(t, spools, u.name, owner)
		u.agent = u.newAgent(t, u.spool, owner)
		u.ledger = newLedger()
		fmt.Fprintf(&usersFile, "%s:{PLAIN}pw\n", u.name)
	}
	if err := os.WriteFile(filepath.Join(base, "users"), []byte(usersFile.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	bin := buildPopgate(t)
	addr, sock := activationSocket(t)
	env := nativeGateEnv(addr, store.scheme+"://"+spools+"/%u", filepath.Join(base, "users"), filepath.Join(base, "data"))
	gate := &killableGate{t: t, bin: bin, sock: sock, env: env}
	gate.start()

	// Deliveries run to their count (or the budget); clients and kills run
	// until every agent is done.
	deliverCtx, cancelDeliveries := context.WithTimeout(context.Background(), deliveryBudget)
	defer cancelDeliveries()
	pollCtx, stopPolling := context.WithCancel(context.Background())
	defer stopPolling()
	quitSent := make(chan struct{}, 1)
	var delivering, polling sync.WaitGroup
	for _, u := range users {
		delivering.Add(1)
		go func() {
			defer delivering.Done()
			u.deliverAll(deliverCtx)
		}()
		polling.Add(1)
		go func() {
			defer polling.Done()
			u.poll(pollCtx, addr, quitSent)
		}()
	}
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		gate.killAtRandom(pollCtx, quitSent)
	}()
	delivering.Wait()
	stopPolling()
	polling.Wait()
	<-killerDone

	// One clean session per user lets popgate repair a spool whose UPDATE
	// a kill interrupted, as it must before serving it again.
	for _, u := range users {
		c, err := dialPOP(addr, u.name, "pw")
		if err == nil {
			_, err = c.cmd("QUIT")
			c.Close()
		}
		if err != nil {
			t.Errorf("%s: last session: %v", u.name, err)
		}
	}
	gate.proc.stop(t)
	t.Logf("popgate killed %d times, %d of them right after a QUIT was sent", gate.kills, gate.killsAtQuit)
	unacked := 0
	for _, u := range users {
		unacked += u.unacked
	}
	if unacked == 0 {
		t.Error("no kill landed between a QUIT and its reply: the test exercised too little")
	}
	for _, u := range users {
		u.check(t, store.read(t, u.spool))
	}
	if t.Failed() {
		for _, l := range gate.linesWith("in use") {
			t.Log(l)
		}
	}
}

// spoolUser is one maildrop (an mbox spool or a Maildir) with its delivery agent and what happened to it.
type spoolUser struct {
	name     string
	spool    string
	newAgent func(testing.TB, string, *testpeer.SystemUser) *testpeer.Deliverer
	agent    *testpeer.Deliverer
	*ledger
}

// ledger records deliveries and sessions for the final check.
type ledger struct {
	mu          sync.Mutex
	delivered   map[string]bool
	deliveryErr []string
	worstWait   time.Duration
	deleted     map[string]int  // DELEd in a session whose QUIT got +OK
	unconfirmed map[string]bool // DELEd in a session whose QUIT got no reply
	sessions    int
	acked       int // sessions whose QUIT got +OK
	unacked     int // sessions whose QUIT was sent and got no reply
	inUse       []string
	refusals    []string // any other -ERR
	badRetr     []string // RETR that did not match its checksum
}

func newLedger() *ledger {
	return &ledger{delivered: map[string]bool{}, deleted: map[string]int{}, unconfirmed: map[string]bool{}}
}

// deliverAll delivers deliveriesPerAgent messages one after another, with
// short random pauses, timing each delivery.
func (u *spoolUser) deliverAll(ctx context.Context) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
	for i := range deliveriesPerAgent {
		id := fmt.Sprintf("%s-%d", u.name, i)
		start := time.Now()
		err := u.agent.Deliver(ctx, testMessage(rng, id))
		wait := time.Since(start)
		u.mu.Lock()
		u.worstWait = max(u.worstWait, wait)
		if err != nil {
			u.deliveryErr = append(u.deliveryErr, fmt.Sprintf("%s after %v: %v", id, wait.Round(time.Millisecond), err))
		} else {
			u.delivered[id] = true
		}
		u.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		time.Sleep(time.Duration(rng.IntN(8000)) * time.Microsecond)
	}
}

// poll runs sessions one after another, 50–250 ms apart: retrieve up to
// 20 messages, delete about three in four of those that are intact, and
// quit. (Each session takes the spool lock twice; polling much faster
// would mostly measure procmail's one-second LOCKSLEEP.)
func (u *spoolUser) poll(ctx context.Context, addr string, quitSent chan<- struct{}) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	for ctx.Err() == nil {
		time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
		c, err := dialPOP(addr, u.name, "pw")
		if err != nil {
			u.refused("login", err)
			continue
		}
		u.session(c, rng, quitSent)
		c.Close()
	}
}

func (u *spoolUser) session(c *popConn, rng *rand.Rand, quitSent chan<- struct{}) {
	u.mu.Lock()
	u.sessions++
	u.mu.Unlock()
	n, err := c.stat()
	var dele []string
	for i := 1; i <= min(n, 20) && err == nil; i++ {
		var msg []byte
		if msg, err = c.retr(i); err != nil {
			break
		}
		id, ok := checkMessage(msg)
		if !ok {
			u.mu.Lock()
			u.badRetr = append(u.badRetr, fmt.Sprintf("message %d (%q): %.200q", i, id, msg))
			u.mu.Unlock()
			continue
		}
		if rng.IntN(4) > 0 {
			if _, err = c.cmd(fmt.Sprintf("DELE %d", i)); err == nil {
				dele = append(dele, id)
			}
		}
	}
	if err != nil {
		// popgate was killed mid-session: nothing was deleted.
		u.refused("session", err)
		return
	}
	if err := c.send("QUIT"); err != nil {
		// Not sent as far as the client knows; the deletions may still
		// have reached popgate with an earlier command, so count them
		// as unconfirmed, which allows either outcome.
		u.settle(dele, false)
		return
	}
	select {
	case quitSent <- struct{}{}:
	default:
	}
	_, err = c.reply()
	var refusal popError
	switch {
	case err == nil:
		u.settle(dele, true)
	case errors.As(err, &refusal):
		// UPDATE refused: nothing was deleted.
		u.refused("QUIT", err)
	default:
		u.settle(dele, false)
	}
}

// settle records a session's deletions after QUIT: acknowledged, or sent
// without a reply.
func (u *spoolUser) settle(ids []string, acked bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if acked {
		u.acked++
	} else {
		u.unacked++
	}
	for _, id := range ids {
		if acked {
			u.deleted[id]++
		} else {
			u.unconfirmed[id] = true
		}
	}
}

// refused records an -ERR reply; connection errors (popgate killed) are
// expected and not recorded.
func (u *spoolUser) refused(step string, err error) {
	var e popError
	if !errors.As(err, &e) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if strings.Contains(string(e), "[IN-USE]") {
		u.inUse = append(u.inUse, step+": "+string(e))
	} else {
		u.refusals = append(u.refusals, step+": "+string(e))
	}
}

// check holds every delivered message against what the sessions did with
// it and the messages left in the maildrop.
func (u *spoolUser) check(t *testing.T, left []storedMsg) {
	t.Helper()
	present := map[string]int{}
	where := map[string][]string{}
	corrupted := 0
	for _, m := range left {
		id, ok := checkMessage(m.content)
		if !ok {
			corrupted++
			if corrupted <= 3 {
				t.Errorf("%s: corrupted message at %s (%q): %.300q", u.name, m.where, id, m.content)
			}
			continue
		}
		present[id]++
		where[id] = append(where[id], m.where)
	}
	var lost, duplicated, deleted, keptAfterAck, goneUnacked, keptUnacked, unknown int
	for id := range present {
		if !u.delivered[id] {
			unknown++
		}
	}
	for id := range u.delivered {
		switch {
		case present[id] > 1:
			duplicated++
			if duplicated <= 5 {
				t.Errorf("%s: %s is there %d times: %s", u.name, id, present[id], strings.Join(where[id], ", "))
			}
		case present[id] == 1 && u.deleted[id] > 0:
			keptAfterAck++
		case present[id] == 1 && u.unconfirmed[id]:
			keptUnacked++
		case present[id] == 1:
		case u.deleted[id] > 0:
			deleted++
		case u.unconfirmed[id]:
			goneUnacked++
		default:
			lost++
			if lost <= 5 {
				t.Errorf("%s: %s was lost", u.name, id)
			}
		}
	}
	t.Logf("%s (%s): %d deliveries, worst wait %v; %d sessions, %d QUIT acknowledged, %d QUIT without reply; "+
		"%d deleted, %d gone and %d kept after a QUIT without reply, %d kept after an acknowledged DELE, %d left; "+
		"lost %d, duplicated %d, corrupted %d",
		u.name, u.agent.Name, len(u.delivered), u.worstWait.Round(time.Millisecond), u.sessions, u.acked, u.unacked,
		deleted, goneUnacked, keptUnacked, keptAfterAck, len(left), lost, duplicated, corrupted)
	if lost+duplicated+corrupted+unknown > 0 {
		t.Errorf("%s: %d lost, %d duplicated, %d corrupted, %d not delivered by the test", u.name, lost, duplicated, corrupted, unknown)
	}
	if len(u.delivered) < deliveriesPerAgent {
		t.Errorf("%s: only %d of %d deliveries in %v; failures: %s", u.name, len(u.delivered), deliveriesPerAgent,
			deliveryBudget, firstFew(u.deliveryErr))
	}
	if u.worstWait > maxDeliveryWait {
		t.Errorf("%s: a delivery took %v", u.name, u.worstWait.Round(time.Millisecond))
	}
	// Each user's sessions run one after another, so none is open when the
	// next logs in, and a killed popgate leaves nothing that may refuse it:
	// the kernel drops its session flock and fcntl lock, and its dotlock
	// names a pid the test has reaped before restarting, which popgate
	// breaks at once. [IN-USE] therefore means popgate gave up waiting
	// (lock_timeout) for a delivery agent's lock, which no delivery of a
	// small message holds that long unless the two deadlock: none is
	// allowed.
	if len(u.inUse) > 0 {
		t.Errorf("%s: %d sessions refused [IN-USE]: %s", u.name, len(u.inUse), firstFew(u.inUse))
	}
	if len(u.refusals) > 0 {
		t.Errorf("%s: %d other -ERR replies: %s", u.name, len(u.refusals), firstFew(u.refusals))
	}
	if len(u.badRetr) > 0 {
		t.Errorf("%s: %d retrieved messages did not match their checksum: %s", u.name, len(u.badRetr), firstFew(u.badRetr))
	}
	if u.acked == 0 {
		t.Errorf("%s: no QUIT acknowledged: the test exercised too little", u.name)
	}
}

func firstFew(s []string) string {
	if len(s) > 3 {
		s = append(s[:3:3], "...")
	}
	return strings.Join(s, "; ")
}

// testMessage is a small message with a unique id and the checksum of its
// body; one body line starts with a dot, to be stuffed on the way.
func testMessage(rng *rand.Rand, id string) []byte {
	var body strings.Builder
	for i := range 2 + rng.IntN(6) {
		if i == 1 {
			body.WriteString(".")
		}
		fmt.Fprintf(&body, "%016x %016x\n", rng.Uint64(), rng.Uint64())
	}
	return fmt.Appendf(nil, "Message-ID: <%s@popgate.test>\nSubject: delivery %s\nX-Test-Id: %s\nX-Body-Sum: %s\n\n%s",
		id, id, id, bodySum([]byte(body.String())), body.String())
}

// bodySum is the checksum of a body whatever its line ends and however
// many blank lines end it (the mbox separator, a missing final newline).
func bodySum(body []byte) string {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	sum := sha256.Sum256(bytes.TrimRight(body, "\n"))
	return hex.EncodeToString(sum[:16])
}

// checkMessage returns a message's X-Test-Id (not X-Delivery-Id, which
// Dovecot's mbox storage removes) and whether its body
// matches its X-Body-Sum. The message may start with a From_ line and carry
// headers the agent added.
func checkMessage(msg []byte) (id string, ok bool) {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	head, body, found := bytes.Cut(msg, []byte("\n\n"))
	if !found {
		return "", false
	}
	var sum string
	for line := range strings.Lines(string(head)) {
		name, value, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "x-test-id":
			id = strings.TrimSpace(value)
		case "x-body-sum":
			sum = strings.TrimSpace(value)
		}
	}
	return id, id != "" && sum == bodySum(body)
}

// killableGate is a popgate on a socket the test holds, SIGKILLed and
// restarted at will: connections made while it is down wait in the
// socket's backlog.
type killableGate struct {
	t           *testing.T
	bin         string
	sock        *os.File
	env         []string
	proc        *popgateProc
	all         []*popgateProc
	kills       int
	killsAtQuit int
}

func (g *killableGate) start() {
	g.proc = startActivated(g.t, g.bin, g.sock, g.env)
	g.all = append(g.all, g.proc)
}

// linesWith returns the log lines of every process that mention text.
func (g *killableGate) linesWith(text string) []string {
	var out []string
	for i, p := range g.all {
		p.mu.Lock()
		for _, m := range p.lines {
			if s := fmt.Sprint(m); strings.Contains(s, text) {
				out = append(out, fmt.Sprintf("process %d: %s", i, s))
			}
		}
		p.mu.Unlock()
	}
	return out
}

// killAtRandom kills and restarts popgate until ctx ends: every 0.1–0.6 s,
// half of the time as soon as a client has sent QUIT (plus up to 2 ms).
func (g *killableGate) killAtRandom(ctx context.Context, quitSent <-chan struct{}) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
	for {
		pause := time.NewTimer(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		select {
		case <-ctx.Done():
			pause.Stop()
			return
		case <-pause.C:
		}
		atQuit := rng.IntN(2) == 0
		if atQuit {
			select {
			case <-quitSent: // an old one
			default:
			}
			select {
			case <-ctx.Done():
				return
			case <-quitSent:
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			case <-time.After(2 * time.Second):
				atQuit = false
			}
		}
		g.proc.cmd.Process.Kill()
		err := <-g.proc.done
		g.proc.done <- err
		g.kills++
		if atQuit {
			g.killsAtQuit++
		}
		g.start()
	}
}
