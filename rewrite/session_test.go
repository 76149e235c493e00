package rewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// testMessage is message i as the legacy server serves it.
func testMessage(i int) string {
	return crlf(fmt.Sprintf("Received: from a by b; Mon, 5 Jan 2004 10:00:%02d +0000\nSubject: message %d\nMessage-ID: <m%d@example.org>\n\nbody %d\n", i%60, i, i, i))
}

func legacyMailbox(n int) *pop3test.Mailbox {
	m := &pop3test.Mailbox{}
	for i := 1; i <= n; i++ {
		m.Messages = append(m.Messages, []byte(testMessage(i)))
		m.UIDs = append(m.UIDs, fmt.Sprintf("legacy-%d", i))
	}
	return m
}

func drain(t *testing.T, open func() (io.ReadCloser, error)) string {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	return string(b)
}

func fingerprints(t *testing.T, s store.UIDLStore, user string) map[string]string {
	t.Helper()
	es, err := s.Legacy(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range es {
		if !e.Gone {
			out[e.UIDL] = e.Fingerprint
		}
	}
	return out
}

func TestLearnerLearnsFromTrafficAndAtQuit(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	inner := legacyMailbox(5)
	l := Learn(inner, "alice", "legacy", Options{Store: st, Budget: 2})
	if _, err := l.Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// RETR of 1 and TOP of 3 pass through unchanged and are learned.
	if got := drain(t, func() (io.ReadCloser, error) { return l.Retr(ctx, 1) }); got != testMessage(1) {
		t.Errorf("RETR 1 changed by the learner: %q", got)
	}
	drain(t, func() (io.ReadCloser, error) { return l.Top(ctx, 3, 1) })
	if err := l.Dele(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Update(ctx); err != nil {
		t.Fatal(err)
	}
	if !inner.Updated() {
		t.Fatal("inner Update not called")
	}
	fps := fingerprints(t, st, "alice")
	for i := 1; i <= 5; i++ {
		want := FingerprintBytes([]byte(testMessage(i)))
		got := fps[fmt.Sprintf("legacy-%d", i)]
		switch i {
		case 1, 3, 2, 4: // retrieved, or fetched at QUIT within the budget of 2
			if got != want {
				t.Errorf("message %d: fingerprint %q, want %q", i, got, want)
			}
		case 5: // deleted: not worth a TOP
			if got != "" {
				t.Errorf("deleted message 5 fetched: %q", got)
			}
		}
	}
	tops := 0
	for _, c := range inner.Calls() {
		if c == "Top" {
			tops++
		}
	}
	if tops != 3 {
		t.Errorf("%d TOP calls, want 3 (one by the client, two within the budget)", tops)
	}
	if got := report(l).Learning; got == nil || got.Learned != 4 {
		t.Errorf("Learning = %+v, want 4 learned", got)
	}
}

func TestLearnerConvergesAcrossSessions(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	for session := range 3 {
		inner := legacyMailbox(7)
		l := Learn(inner, "bob", "legacy", Options{Store: st, Budget: 3})
		// The client never lists: the learner lists at QUIT itself.
		if _, err := l.Update(ctx); err != nil {
			t.Fatal(err)
		}
		learned := 0
		for _, fp := range fingerprints(t, st, "bob") {
			if fp != "" {
				learned++
			}
		}
		if want := min(7, 3*(session+1)); learned != want {
			t.Fatalf("after session %d: %d fingerprints, want %d", session+1, learned, want)
		}
	}
}

func TestLearnerSavesOnCloseWithoutFetching(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	inner := legacyMailbox(3)
	l := Learn(inner, "carol", "legacy", Options{Store: st})
	l.Uidl(ctx, 0)
	drain(t, func() (io.ReadCloser, error) { return l.Retr(ctx, 2) })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fps := fingerprints(t, st, "carol")
	if len(fps) != 3 || fps["legacy-2"] == "" || fps["legacy-1"] != "" {
		t.Errorf("after Close: %v, want 3 UIDLs with only legacy-2 fingerprinted", fps)
	}
	if slices.Contains(inner.Calls(), "Top") {
		t.Error("Close fetched headers")
	}
}

func TestLearnerIgnoresInterruptedRetr(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	inner := legacyMailbox(1)
	inner.BodyErr, inner.BodyErrAfter = errors.New("connection reset"), 10
	l := Learn(inner, "dan", "legacy", Options{Store: st, Budget: -1})
	l.Uidl(ctx, 0)
	rc, _ := l.Retr(ctx, 1)
	if _, err := io.ReadAll(rc); err == nil {
		t.Fatal("broken body read without error")
	}
	l.Close()
	if fp := fingerprints(t, st, "dan")["legacy-1"]; fp != "" {
		t.Errorf("fingerprint %q learned from 10 bytes of headers", fp)
	}
}

// move runs a learning session over legacy, then returns a Mapper over the
// new maildrop.
func move(t *testing.T, st store.UIDLStore, legacy, moved *pop3test.Mailbox, log *zap.Logger) *Mapper {
	t.Helper()
	ctx := context.Background()
	l := Learn(legacy, "erin", "legacy", Options{Store: st, Budget: 1000})
	if _, err := l.Update(ctx); err != nil {
		t.Fatal(err)
	}
	return Map(moved, "erin", "native", Options{Store: st, Logger: log})
}

func TestMapperServesLegacyUIDLs(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	core, logs := observer.New(zapcore.WarnLevel)
	// The new backend holds messages 4, 2, 1 (3 was deleted before the
	// move) with Dovecot's headers added, and one new message whose own
	// UIDL happens to equal a legacy one.
	moved := &pop3test.Mailbox{UIDs: []string{"n4", "n2", "legacy-3", "n1"}}
	for _, i := range []int{4, 2, 0, 1} {
		msg := crlf("From: new@example.org\nSubject: after the move\n\nnew\n")
		if i > 0 {
			msg = "X-IMAPbase: 1 2\r\nStatus: RO\r\n" + testMessage(i)
		}
		moved.Messages = append(moved.Messages, []byte(msg))
	}
	m := move(t, st, legacyMailbox(4), moved, zap.New(core))
	list, err := m.Uidl(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(list))
	for i, mi := range list {
		got[i] = mi.UID
	}
	want := []string{"legacy-4", "legacy-2", "n-legacy-3", "legacy-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("UIDL = %v, want %v", got, want)
	}
	if one, err := m.Uidl(ctx, 2); err != nil || len(one) != 1 || one[0].UID != "legacy-2" {
		t.Errorf("UIDL 2 = %v, %v; want legacy-2", one, err)
	}
	if got := report(m).Mapping; got == nil || *got != (session.Mapping{Mapped: 3, Unmapped: 1, NewlyMapped: 3, Unmatched: 1}) {
		t.Errorf("Mapping = %+v, want 3 mapped, 1 unmapped, the unmapped one old mail", got)
	}
	warns := logs.FilterField(zap.String("user", "erin")).FilterField(zap.Int("msg_num", 3)).All()
	if len(warns) != 1 {
		t.Errorf("want one warning naming erin's message 3, got %v", logs.All())
	}

	// A later session reads the cached pairs: no TOP at all.
	moved2 := &pop3test.Mailbox{Messages: moved.Messages, UIDs: moved.UIDs}
	m2 := Map(moved2, "erin", "native", Options{Store: st})
	list2, err := m2.Uidl(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range list2 {
		if list2[i].UID != want[i] {
			t.Errorf("second session message %d: %s, want %s", i+1, list2[i].UID, want[i])
		}
	}
	if slices.Contains(moved2.Calls(), "Top") {
		t.Error("second session fetched headers despite cached pairs")
	}
	if got := report(m2).Mapping; got == nil || *got != (session.Mapping{Mapped: 3, Unmapped: 1}) {
		t.Errorf("second session Mapping = %+v, want 3 mapped, 1 unmapped, none resolved anew", got)
	}

	// Mail delivered after the move is new mail, not an alert.
	before := len(logs.FilterLevelExact(zap.WarnLevel).All())
	moved3 := &pop3test.Mailbox{UIDs: append(slices.Clone(moved.UIDs), "n5"),
		Messages: append(slices.Clone(moved.Messages), []byte(crlf("From: later@example.org\nSubject: later\n\nnew\n")))}
	m3 := Map(moved3, "erin", "native", Options{Store: st, Logger: zap.New(core)})
	if _, err := m3.Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := report(m3).Mapping; got == nil || *got != (session.Mapping{Mapped: 3, Unmapped: 2, New: 1}) {
		t.Errorf("after new mail: Mapping = %+v, want 3 mapped, 2 unmapped, 1 new", got)
	}
	if after := len(logs.FilterLevelExact(zap.WarnLevel).All()); after != before {
		t.Errorf("new mail logged %d warnings", after-before)
	}
}

func TestMapperFailsWhenStoreFails(t *testing.T) {
	ctx := context.Background()
	m := Map(legacyMailbox(2), "f", "native", Options{Store: failingStore{memstore.New()}})
	_, err := m.Uidl(ctx, 0)
	if pop3.CodeOf(err) != pop3.CodeSysTemp {
		t.Fatalf("Uidl with a broken store: %v, want a SYS/TEMP refusal, not new UIDLs", err)
	}
}

func TestMapperPassesThroughUsersNeverOnLegacy(t *testing.T) {
	ctx := context.Background()
	inner := legacyMailbox(3)
	m := Map(inner, "new", "native", Options{Store: memstore.New()})
	list, err := m.Uidl(ctx, 0)
	if err != nil || len(list) != 3 || list[0].UID != "legacy-1" {
		t.Fatalf("Uidl = %v, %v", list, err)
	}
	if slices.Contains(inner.Calls(), "Top") {
		t.Error("headers fetched for a user with no legacy map")
	}
	if got := report(m).Mapping; got == nil || *got != (session.Mapping{Mapped: 0, Unmapped: 3}) {
		t.Errorf("Mapping = %+v, want 0 mapped, 3 unmapped", got)
	}
}

type failingStore struct{ store.UIDLStore }

func (failingStore) Legacy(context.Context, string) ([]store.Entry, error) {
	return nil, errors.New("disk on fire")
}

func TestNewDecorator(t *testing.T) {
	d := NewDecorator(Options{Store: memstore.New()}, "old")
	var dec session.Decorator = d
	if _, ok := dec.Decorate(context.Background(), &session.Info{User: "u", Backend: "old"}, legacyMailbox(1)).(*Learner); !ok {
		t.Error("legacy backend not learned from")
	}
	if _, ok := dec.Decorate(context.Background(), &session.Info{User: "u", Backend: "native"}, legacyMailbox(1)).(*Mapper); !ok {
		t.Error("native backend not mapped")
	}
}

func TestMapperFallsBackToRetrWithoutTop(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	moved := legacyMailbox(3)
	moved.UIDs = []string{"a", "b", "c"}
	moved.Errors = map[string]error{"Top": pop3.ErrUnsupported}
	m := move(t, st, legacyMailbox(3), moved, nil)
	list, err := m.Uidl(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, mi := range list {
		if want := fmt.Sprintf("legacy-%d", i+1); mi.UID != want {
			t.Errorf("message %d: %s, want %s", i+1, mi.UID, want)
		}
	}
	if !slices.Contains(moved.Calls(), "Retr") {
		t.Error("no RETR after TOP was refused")
	}
}

func TestMapperFailsOnBrokenBackend(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	moved := legacyMailbox(2)
	moved.Errors = map[string]error{"Top": pop3.ErrBackendTemporary}
	m := move(t, st, legacyMailbox(2), moved, nil)
	if _, err := m.Uidl(ctx, 0); !errors.Is(err, pop3.ErrBackendTemporary) {
		t.Fatalf("Uidl with TOP failing temporarily: %v, want the backend's error rather than new UIDLs", err)
	}
}

func TestLearnerKeepsBodySize(t *testing.T) {
	ctx := context.Background()
	l := Learn(legacyMailbox(1), "g", "legacy", Options{Store: memstore.New()})
	rc, err := l.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	s, ok := rc.(pop3.Sizer)
	if !ok || s.Size() != int64(len(testMessage(1))) {
		t.Errorf("RETR body through the learner lost its Size (ok=%v)", ok)
	}
}

func TestMapperDropsPairsOfRemovedMessages(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	moved := legacyMailbox(3)
	moved.UIDs = []string{"a", "b", "c"}
	if _, err := move(t, st, legacyMailbox(3), moved, nil).Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// Message "b" was deleted (committed) since; the client deletes "c"
	// in the next session before listing: its pair must stay.
	next := &pop3test.Mailbox{Messages: [][]byte{moved.Messages[0], moved.Messages[2]}, UIDs: []string{"a", "c"}}
	m := Map(next, "erin", "native", Options{Store: st})
	if _, err := m.Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	pairs, _ := st.Pairs(ctx, "erin", "native")
	if _, ok := pairs["b"]; ok || len(pairs) != 2 {
		t.Errorf("pairs after b was removed: %v, want a and c only", pairs)
	}
	m = Map(&pop3test.Mailbox{Messages: next.Messages, UIDs: next.UIDs}, "erin", "native", Options{Store: st})
	if err := m.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if pairs, _ := st.Pairs(ctx, "erin", "native"); len(pairs) != 2 {
		t.Errorf("pairs after a DELE in the session: %v, want a and c kept", pairs)
	}
}

// report returns what r puts on the session line.
func report(r session.Reporter) session.Record {
	var rec session.Record
	r.Report(&rec)
	return rec
}
