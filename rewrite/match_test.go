package rewrite

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/popgate/popgate/store"
)

// maildropCase is a generated move: a legacy maildrop with the UIDLs its
// clients saw, and the new backend's maildrop after the move.
type maildropCase struct {
	legacy     []store.Entry
	legacyBody []string // content id of each legacy entry
	cands      []Candidate
	candBody   []string
}

// genHeaders renders message content id as headers, the way a server may
// present it: variant picks line ends, folding and added headers.
func genHeaders(id string, variant int) string {
	h := fmt.Sprintf("Received: from relay by mx; Mon, 5 Jan 2004 10:00:00 +0000\nDate: Mon, 5 Jan 2004 10:00:00 +0000\nSubject: message %s is here\nMessage-ID: <%s@example.org>\n", id, id)
	switch variant % 5 {
	case 1: // Dovecot on mbox
		h = "X-IMAPbase: 1 2\n" + h + "Status: RO\nX-UID: 3\nX-Keywords:\n"
	case 2: // qpopper
		h = "X-UIDL: abcdefghijklmn\n" + h + "Status: U\n"
	case 3: // refolded, CRLF
		h = strings.Replace(h, "Subject: message", "Subject:\r\n message", 1)
		h = strings.ReplaceAll(h, "\n", "\r\n")
	case 4:
		h = "Return-Path: <x@example.org>\n" + h + "Content-Length: 10\n"
	}
	return h + "\nbody of " + id + "\n"
}

var fpMemo = map[[2]string]string{}

// genFingerprint is FingerprintBytes(genHeaders(id, variant)), memoised to
// keep the property test fast under the race detector.
func genFingerprint(id string, variant int) string {
	k := [2]string{id, fmt.Sprint(variant % 5)}
	if fp, ok := fpMemo[k]; ok {
		return fp
	}
	fp := FingerprintBytes([]byte(genHeaders(id, variant)))
	fpMemo[k] = fp
	return fp
}

func genCase(r *rand.Rand) maildropCase {
	var c maildropCase
	nLegacy := r.IntN(30)
	contents := max(1, nLegacy/2+1) // few contents: identical duplicates are common
	usedUIDL := map[string]bool{}
	dupOf := map[string]int{}
	for i := range nLegacy {
		id := fmt.Sprint("c", r.IntN(contents))
		uidl := fmt.Sprintf("L%d", r.IntN(1000))
		if r.IntN(6) == 0 {
			uidl = "d98c1dd404b2008f" // popa3d's UIDL for messages without hashed headers
		}
		for usedUIDL[uidl] && uidl != "d98c1dd404b2008f" {
			uidl = fmt.Sprintf("L%d", r.IntN(100000))
		}
		usedUIDL[uidl] = true
		e := store.Entry{UIDL: uidl, Dup: dupOf[uidl], Seq: i + 1,
			Fingerprint: genFingerprint(id, r.IntN(5))}
		dupOf[uidl]++
		if r.IntN(10) == 0 {
			e.Fingerprint = "" // not learned yet
		}
		if r.IntN(12) == 0 {
			e.Gone = true
		}
		c.legacy = append(c.legacy, e)
		c.legacyBody = append(c.legacyBody, id)
	}
	// The new maildrop: the legacy messages still there (some missing,
	// some lost only on the new side), shuffled, plus new ones.
	var bodies []string
	for i, e := range c.legacy {
		if e.Gone || r.IntN(8) == 0 {
			continue
		}
		bodies = append(bodies, c.legacyBody[i])
	}
	for range r.IntN(8) {
		bodies = append(bodies, fmt.Sprint("c", r.IntN(contents+5))) // may repeat known content
	}
	r.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	for i, id := range bodies {
		uid := fmt.Sprintf("N%d", i)
		switch r.IntN(5) {
		case 0: // the new backend's own id equals a legacy UIDL of the user
			if len(c.legacy) > 0 {
				uid = c.legacy[r.IntN(len(c.legacy))].UIDL
			}
		case 1:
			uid = "n-" + uid // looks like a disambiguated form
		}
		c.cands = append(c.cands, Candidate{UID: uid, Fingerprint: genFingerprint(id, r.IntN(5))})
		c.candBody = append(c.candBody, id)
	}
	return c
}

// checkInvariants checks a resolution of c against the guarantees.
func checkInvariants(t *testing.T, c maildropCase, res []Resolution) {
	t.Helper()
	reserved := map[string]bool{}
	legacyByUIDL := map[string][]int{}
	for i, e := range c.legacy {
		reserved[e.UIDL] = true
		legacyByUIDL[e.UIDL] = append(legacyByUIDL[e.UIDL], i)
	}
	seen := map[string]int{}
	mappedPerBody := map[string]int{}
	for i, r := range res {
		if j, dup := seen[r.UIDL]; dup {
			t.Fatalf("messages %d and %d both shown as %q", j, i, r.UIDL)
		}
		seen[r.UIDL] = i
		if len(r.UIDL) == 0 || len(r.UIDL) > 70 || strings.ContainsFunc(r.UIDL, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			t.Fatalf("message %d shown as %q, not an RFC 1939 unique-id", i, r.UIDL)
		}
		if !r.Mapped {
			if reserved[r.UIDL] {
				t.Fatalf("new message %d shown as legacy UIDL %q", i, r.UIDL)
			}
			continue
		}
		ok := false
		for _, j := range legacyByUIDL[r.UIDL] {
			ok = ok || c.legacyBody[j] == c.candBody[i] && !c.legacy[j].Gone
		}
		if !ok {
			t.Fatalf("message %d (content %s) mapped to %q, a legacy UIDL of other content", i, c.candBody[i], r.UIDL)
		}
		mappedPerBody[c.candBody[i]]++
	}
	// Never a known message on a new UIDL: each content maps as many
	// copies as the legacy side showed under UIDLs of its own; and a UIDL
	// the legacy server showed for several messages is not left unused
	// while a copy of one of them goes unmapped.
	shown := map[string]int{}
	for _, e := range c.legacy {
		if !e.Gone {
			shown[e.UIDL]++
		}
	}
	own := map[string]int{}
	sharedBy := map[string][]string{} // shared UIDL -> contents
	for i, e := range c.legacy {
		if e.Gone || e.Fingerprint == "" {
			continue
		}
		if shown[e.UIDL] == 1 {
			own[c.legacyBody[i]]++
		} else {
			sharedBy[e.UIDL] = append(sharedBy[e.UIDL], c.legacyBody[i])
		}
	}
	onNew := map[string]int{}
	for _, b := range c.candBody {
		onNew[b]++
	}
	for body, n := range onNew {
		if want := min(n, own[body]); mappedPerBody[body] < want {
			t.Fatalf("content %s: %d of %d copies mapped, want at least %d", body, mappedPerBody[body], n, want)
		}
	}
	for u, bodies := range sharedBy {
		if _, used := seen[u]; used {
			continue
		}
		for _, b := range bodies {
			if mappedPerBody[b] < onNew[b] {
				t.Fatalf("shared legacy UIDL %q unused while a copy of %s is unmapped", u, b)
			}
		}
	}
}

// TestMatchProperties runs the matcher on generated moves: shuffled order,
// missing and extra messages, identical duplicates, and headers added,
// stripped or refolded by the new server.
func TestMatchProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 1))
	for i := range 2000 {
		c := genCase(r)
		res := Match(c.legacy, c.cands, nil, nil)
		if len(res) != len(c.cands) {
			t.Fatalf("case %d: %d resolutions for %d candidates", i, len(res), len(c.cands))
		}
		checkInvariants(t, c, res)
		again := Match(c.legacy, c.cands, nil, nil)
		for j := range res {
			if res[j] != again[j] {
				t.Fatalf("case %d: not deterministic at %d: %v then %v", i, j, res[j], again[j])
			}
		}
	}
}

func TestMatchDuplicatesInOrder(t *testing.T) {
	fp := FingerprintBytes([]byte(genHeaders("same", 0)))
	legacy := []store.Entry{
		{UIDL: "second", Fingerprint: fp, Seq: 2},
		{UIDL: "first", Fingerprint: fp, Seq: 1},
	}
	res := Match(legacy, []Candidate{{UID: "a", Fingerprint: fp}, {UID: "b", Fingerprint: fp}, {UID: "c", Fingerprint: fp}}, nil, nil)
	want := []Resolution{{"first", true}, {"second", true}, {"c", false}}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("candidate %d = %v, want %v", i, res[i], want[i])
		}
	}
}

func TestNewUIDLAvoidsTaken(t *testing.T) {
	taken := map[string]bool{"x": true, "n-x": true}
	if got := NewUIDL("x", func(s string) bool { return taken[s] }); got != "n2-x" {
		t.Errorf("NewUIDL(x) = %q, want n2-x", got)
	}
	if got := NewUIDL("y", func(s string) bool { return taken[s] }); got != "y" {
		t.Errorf("NewUIDL(y) = %q, want y", got)
	}
	long := strings.Repeat("z", 70)
	got := NewUIDL(long, func(s string) bool { return s == long })
	if len(got) > 70 || got == long {
		t.Errorf("NewUIDL(70 chars) = %q (%d chars)", got, len(got))
	}
}

// TestGeneratedVariantsAgree makes sure the property test's server
// variants really are the same message to the fingerprint.
func TestGeneratedVariantsAgree(t *testing.T) {
	want := FingerprintBytes([]byte(genHeaders("x", 0)))
	for v := 1; v < 5; v++ {
		if got := FingerprintBytes([]byte(genHeaders("x", v))); got != want {
			t.Errorf("variant %d: %s, want %s", v, got, want)
		}
	}
}
