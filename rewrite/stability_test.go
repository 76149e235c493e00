package rewrite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/store/memstore"
)

// TestMapperStableAcrossSessions moves generated maildrops and checks that
// what a client saw in one session it sees again in the next, after new
// messages arrived and some were deleted, and that the invariants hold in
// every session.
func TestMapperStableAcrossSessions(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 150 {
		st := memstore.New()
		legacy := &pop3test.Mailbox{}
		nLegacy := 1 + r.IntN(12)
		for j := range nLegacy {
			body := r.IntN(nLegacy) // identical duplicates are common
			legacy.Messages = append(legacy.Messages, []byte(crlf(genHeaders(fmt.Sprint("c", body), r.IntN(5)))))
			legacy.UIDs = append(legacy.UIDs, fmt.Sprintf("L%d", j))
		}
		l := Learn(legacy, "u", "legacy", Options{Store: st, Budget: 1000})
		if _, err := l.Update(ctx); err != nil {
			t.Fatal(err)
		}
		// The new maildrop: the legacy messages in order, Dovecot-style
		// headers, unique UIDs of which some equal legacy ones.
		moved := &pop3test.Mailbox{}
		used := map[string]bool{}
		freshUID := func(j int) string {
			uid := fmt.Sprintf("N%d", j)
			if r.IntN(3) == 0 {
				uid = fmt.Sprintf("L%d", r.IntN(nLegacy))
			}
			for used[uid] {
				uid += "x"
			}
			used[uid] = true
			return uid
		}
		for j, msg := range legacy.Messages {
			moved.Messages = append(moved.Messages, append([]byte("X-UID: 1\r\nStatus: RO\r\n"), msg...))
			moved.UIDs = append(moved.UIDs, freshUID(j))
		}
		seen := map[string]string{} // backend UID -> what the client saw
		for session := range 3 {
			m := Map(&pop3test.Mailbox{Messages: moved.Messages, UIDs: moved.UIDs}, "u", "native", Options{Store: st})
			list, err := m.Uidl(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			shown := map[string]bool{}
			for j, mi := range list {
				if shown[mi.UID] {
					t.Fatalf("case %d session %d: %q shown twice", i, session, mi.UID)
				}
				shown[mi.UID] = true
				uid := moved.UIDs[j]
				if prev, ok := seen[uid]; ok && prev != mi.UID {
					t.Fatalf("case %d session %d: message %s was %q, now %q", i, session, uid, prev, mi.UID)
				}
				seen[uid] = mi.UID
			}
			if mp := report(m).Mapping; session == 0 && mp.Mapped != nLegacy {
				t.Fatalf("case %d: %d of %d legacy messages mapped", i, mp.Mapped, nLegacy)
			}
			// Between sessions: one message is deleted, one arrives.
			if len(moved.Messages) > 1 {
				k := r.IntN(len(moved.Messages))
				moved.Messages = append(moved.Messages[:k:k], moved.Messages[k+1:]...)
				moved.UIDs = append(moved.UIDs[:k:k], moved.UIDs[k+1:]...)
			}
			moved.Messages = append(moved.Messages, []byte(crlf(genHeaders(fmt.Sprint("new", i, session), 0))))
			moved.UIDs = append(moved.UIDs, freshUID(100+session)) // often a legacy UIDL
		}
	}
}
