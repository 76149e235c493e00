package backend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// snapshot is what a client sees of a maildrop: the UIDL and LIST
// listings, STAT, and every message's bytes.
type snapshot struct {
	uids  []pop3.MsgInfo
	sizes []pop3.MsgInfo
	count int
	total int64
	msgs  []string
}

func takeSnapshot(t *testing.T, b *Backend, user string) snapshot {
	t.Helper()
	ctx := context.Background()
	m := login(t, b, user)
	defer m.Close()
	var s snapshot
	var err error
	if s.count, s.total, err = m.Stat(ctx); err != nil {
		t.Fatal(err)
	}
	if s.uids, err = m.Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if s.sizes, err = m.List(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= s.count; n++ {
		rc, err := m.Retr(ctx, n)
		s.msgs = append(s.msgs, readMsg(t, rc, err))
	}
	return s
}

// sameAsFresh checks what b serves of user's maildrop against a backend
// that has never seen it (no index, no listing).
func sameAsFresh(t *testing.T, b *Backend, spool, user string) snapshot {
	t.Helper()
	fresh, _ := newTestBackend(t, KindMbox, spool+"/%u", "", uidl.Native)
	got, want := takeSnapshot(t, b, user), takeSnapshot(t, fresh, user)
	if got.count != want.count || got.total != want.total {
		t.Fatalf("STAT %d %d, a fresh backend says %d %d", got.count, got.total, want.count, want.total)
	}
	if !slices.Equal(got.uids, want.uids) || !slices.Equal(got.sizes, want.sizes) {
		t.Fatalf("listings differ from a fresh backend's:\nUIDL %v\nwant %v\nLIST %v\nwant %v", got.uids, want.uids, got.sizes, want.sizes)
	}
	for i := range got.msgs {
		if got.msgs[i] != want.msgs[i] {
			t.Fatalf("message %d differs from a fresh backend's", i+1)
		}
	}
	return got
}

// The listing kept between sessions is handed out as a copy: a caller
// that edits what Uidl returned changes nothing for the next session.
func TestListingIsCopied(t *testing.T) {
	spool := t.TempDir()
	appendMsgs(t, spool+"/ann", 0, 5)
	b, _ := newTestBackend(t, KindMbox, spool+"/%u", "", uidl.Native)
	want := poll(t, b, "ann")
	m := login(t, b, "ann")
	l, err := m.Uidl(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l {
		l[i].UID = "edited"
	}
	m.Close()
	if got := poll(t, b, "ann"); !slices.Equal(got, want) {
		t.Fatalf("listing after an edit by a caller: %v, want %v", got, want)
	}
}

// STAT, LIST and UIDL within a session follow DELE and RSET, whatever is
// kept for the next session.
func TestListingFollowsDele(t *testing.T) {
	spool := t.TempDir()
	appendMsgs(t, spool+"/ann", 0, 4)
	b, _ := newTestBackend(t, KindMbox, spool+"/%u", "", uidl.Native)
	all := takeSnapshot(t, b, "ann")
	ctx := context.Background()
	m := login(t, b, "ann")
	defer m.Close()
	m.Dele(ctx, 2)
	m.Dele(ctx, 2) // twice is once
	n, size, _ := m.Stat(ctx)
	if n != 3 || size != all.total-all.sizes[1].Size {
		t.Errorf("STAT after DELE 2: %d %d", n, size)
	}
	l, _ := m.Uidl(ctx, 0)
	if want := slices.Delete(slices.Clone(all.uids), 1, 2); !slices.Equal(l, want) {
		t.Errorf("UIDL after DELE 2: %v, want %v", l, want)
	}
	m.Rset(ctx)
	if n, size, _ := m.Stat(ctx); n != 4 || size != all.total {
		t.Errorf("STAT after RSET: %d %d", n, size)
	}
	if l, _ := m.Uidl(ctx, 0); !slices.Equal(l, all.uids) {
		t.Errorf("UIDL after RSET: %v", l)
	}
}

// The listing kept for a maildrop is replaced whenever the spool changes:
// mail appended, messages deleted by another popgate instance sharing the
// spool (its own data directory, so its own index), the spool rewritten
// by another program at the same size, or replaced.
func TestListingFollowsTheSpool(t *testing.T) {
	spool := t.TempDir()
	path := filepath.Join(spool, "ann")
	appendMsgs(t, path, 0, 10)
	b, log := newTestBackend(t, KindMbox, spool+"/%u", t.TempDir(), uidl.Native)
	other, _ := newTestBackend(t, KindMbox, spool+"/%u", t.TempDir(), uidl.Native)
	first := sameAsFresh(t, b, spool, "ann")
	if again := sameAsFresh(t, b, spool, "ann"); !slices.Equal(again.uids, first.uids) {
		t.Fatal("unchanged spool, other listing")
	}
	if scan, _ := log.last(); scan != "unchanged" {
		t.Fatalf("second poll: %s", scan)
	}

	appendMsgs(t, path, 10, 13)
	if got := sameAsFresh(t, b, spool, "ann"); got.count != 13 {
		t.Fatalf("after an append: %d messages", got.count)
	}

	// Another instance deletes messages 1 and 12.
	m := login(t, other, "ann")
	m.Dele(context.Background(), 1)
	m.Dele(context.Background(), 12)
	if _, err := m.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sameAsFresh(t, b, spool, "ann"); got.count != 11 || slices.Contains(uidsOf(got), first.uids[0].UID) {
		t.Fatalf("after deletions by another instance: %d messages, %v", got.count, uidsOf(got))
	}

	// Another program rewrites the spool in place, same size, and puts the
	// modification time back; then replaces it with a copy by rename.
	content, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	swapped := strings.Replace(string(content), "Subject: 2\n", "Subject: 9\n", 1)
	if swapped == string(content) {
		t.Fatal("test spool lacks the header to rewrite")
	}
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	f.WriteAt([]byte(swapped), 0)
	f.Close()
	os.Chtimes(path, st.ModTime(), st.ModTime())
	sameAsFresh(t, b, spool, "ann")
	os.WriteFile(path+".new", content, 0o600)
	os.Rename(path+".new", path)
	sameAsFresh(t, b, spool, "ann")
	os.Remove(path)
	if got := sameAsFresh(t, b, spool, "ann"); got.count != 0 {
		t.Fatalf("removed spool: %d messages", got.count)
	}
}

func uidsOf(s snapshot) []string {
	var out []string
	for _, mi := range s.uids {
		out = append(out, mi.UID)
	}
	return out
}

// dovecot-lda rewrites headers of messages already in the spool (X-UID,
// X-IMAPbase, X-Keywords), in place, and may shift the messages after
// them. Each delivery must leave the kept index and listing exactly what
// a fresh parse gives, whichever way popgate brought them up to date; the
// large spool is checked through a kept mapping (windowMsgs).
func TestListingAfterDovecotLDA(t *testing.T) {
	for _, n := range []int{20, windowMsgs + 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { listingAfterDovecotLDA(t, n) })
	}
}

func listingAfterDovecotLDA(t *testing.T, n int) {
	spool := testpeer.SharedTempDir(t)
	path := filepath.Join(spool, "ann")
	// Messages as a plain appending agent leaves them: no Dovecot headers.
	appendMsgs(t, path, 0, n)
	// The agent runs as the spool's owner, as an MTA runs it.
	var owner *testpeer.SystemUser
	if os.Geteuid() == 0 {
		u := testpeer.NewSystemUser(t, "")
		owner = &u
		owner.Chown(t, owner.GID, spool, path)
	}
	lda := testpeer.DovecotLDA(t, path, owner)
	b, log := newTestBackend(t, KindMbox, spool+"/%u", t.TempDir(), uidl.Native)
	sameAsFresh(t, b, spool, "ann")
	scans := map[string]int{}
	for i := range 6 {
		before, _ := os.ReadFile(path)
		msg := fmt.Sprintf("Message-ID: <lda-%d@test>\nSubject: lda %d\n\nbody %d\n", i, i, i)
		if err := lda.Deliver(context.Background(), []byte(msg)); err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadFile(path)
		if i == 0 && strings.HasPrefix(string(after), string(before)) {
			t.Log("dovecot-lda only appended to the spool")
		}
		got := sameAsFresh(t, b, spool, "ann")
		if want := n + 1 + i - i/2; got.count != want {
			t.Fatalf("after delivery %d: %d messages, want %d", i+1, got.count, want)
		}
		scan, _ := log.last()
		scans[scan]++
		// Every second round, a session deletes the oldest message, so
		// that dovecot-lda finds popgate's rewrite next.
		if i%2 == 1 {
			m := login(t, b, "ann")
			m.Dele(context.Background(), 1)
			if _, err := m.Update(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("index updates: %v", scans)
	if n >= windowMsgs {
		if _, ok := b.windows.Peek(path); !ok {
			t.Error("no mapping kept for the large spool")
		}
	}
}

// fakeDrop is a maildrop of given unique-ids, for listing tests.
type fakeDrop struct {
	drop
	uids []string
}

func (f fakeDrop) count() int       { return len(f.uids) }
func (f fakeDrop) uid(i int) string { return f.uids[i] }
func (f fakeDrop) size(i int) int64 { return int64(len(f.uids[i]) * 10) }

// A listing extended by appended messages is the one built afresh, and
// it is not extended when a new unique-id equals a listed one (which
// renaming must then settle) or when the listing had renamed ones.
func TestListingExtend(t *testing.T) {
	uids := []string{"a", "b", "c"}
	l := newListing(fakeDrop{uids: uids})
	for round := range 300 {
		next := slices.Clone(uids)
		if round%7 == 3 {
			next[len(next)-1] += "+" // the last message parsed again, changed
		}
		for i := range round%4 + 1 {
			next = append(next, fmt.Sprintf("m%d.%d", round, i))
		}
		fresh := newListing(fakeDrop{uids: next})
		x := l.extend(fakeDrop{uids: next})
		if x == nil || !slices.Equal(x.infos, fresh.infos) || x.size != fresh.size {
			t.Fatalf("round %d: extended %+v, fresh %+v", round, x, fresh)
		}
		l, uids = x, next
	}
	dup := append(slices.Clone(uids), "b")
	if x := l.extend(fakeDrop{uids: dup}); x != nil {
		t.Fatal("extended with a unique-id listed already")
	}
	if got := newListing(fakeDrop{uids: dup}).infos[len(dup)-1].UID; got != "b-2" {
		t.Fatalf("duplicate listed as %q", got)
	}
	renamed := newListing(fakeDrop{uids: []string{"a", "a"}})
	if renamed.set != nil || renamed.extend(fakeDrop{uids: []string{"a", "a", "c"}}) != nil {
		t.Fatal("a listing with renamed unique-ids was extended")
	}
	// A rewritten maildrop (other unique-ids from the first on) is built
	// afresh.
	if l.extend(fakeDrop{uids: append([]string{"z"}, slices.Concat(uids[2:], []string{"y"})...)}) != nil {
		t.Fatal("extended a rewritten maildrop")
	}
}
