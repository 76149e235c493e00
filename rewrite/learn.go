package rewrite

import (
	"context"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
)

// Learner wraps a legacy server's Mailbox and records, for the session's
// user, each message's legacy UIDL and fingerprint. It changes nothing the
// client sees.
type Learner struct {
	pop3.Mailbox
	user, backend string
	o             Options

	mu      sync.Mutex
	uids    map[int]string // message number -> legacy UIDL, from a full listing
	fps     map[int]string // message number -> fingerprint learned this session
	deleted map[int]bool
	fetched int // messages whose headers were fetched at QUIT
	saved   bool

	rec       *learnRecord // complete learns, shared with the Decorator's other Learners; nil: none
	unchanged bool         // Update skipped learning: the maildrop was as last learned
}

var _ pop3.Mailbox = (*Learner)(nil)

// Learn returns a Learner around m, the Mailbox of user on the legacy
// backend.
func Learn(m pop3.Mailbox, user, backend string, o Options) *Learner {
	return &Learner{Mailbox: m, user: user, backend: backend, o: o,
		fps: map[int]string{}, deleted: map[int]bool{}}
}

// Uidl implements pop3.Mailbox, remembering a full listing.
func (l *Learner) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	list, err := l.Mailbox.Uidl(ctx, n)
	if err == nil && n == 0 {
		l.remember(list)
	}
	return list, err
}

func (l *Learner) remember(list []pop3.MsgInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.uids != nil {
		return // the first listing has every message not deleted yet
	}
	l.uids = make(map[int]string, len(list))
	for _, mi := range list {
		l.uids[mi.Num] = mi.UID
	}
}

func (l *Learner) learned(n int) func(string) {
	return func(fp string) {
		l.mu.Lock()
		l.fps[n] = fp
		l.mu.Unlock()
	}
}

// Retr implements pop3.Mailbox, fingerprinting the headers as they pass.
func (l *Learner) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	rc, err := l.Mailbox.Retr(ctx, n)
	if err != nil {
		return nil, err
	}
	return newHeaderTee(rc, l.learned(n)), nil
}

// Top implements pop3.Mailbox, fingerprinting the headers as they pass.
func (l *Learner) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	rc, err := l.Mailbox.Top(ctx, n, lines)
	if err != nil {
		return nil, err
	}
	return newHeaderTee(rc, l.learned(n)), nil
}

// Dele implements pop3.Mailbox.
func (l *Learner) Dele(ctx context.Context, n int) error {
	err := l.Mailbox.Dele(ctx, n)
	if err == nil {
		l.mu.Lock()
		l.deleted[n] = true
		l.mu.Unlock()
	}
	return err
}

// Rset implements pop3.Mailbox.
func (l *Learner) Rset(ctx context.Context) error {
	err := l.Mailbox.Rset(ctx)
	if err == nil {
		l.mu.Lock()
		clear(l.deleted)
		l.mu.Unlock()
	}
	return err
}

// Update implements pop3.Mailbox. Before committing it learns the headers
// of messages not known yet, within the budget, and saves what it learned.
// Learning never makes the QUIT fail.
//
// A Learner made by a Decorator skips all of that (no listing, no store
// read, no TOP, no save) when the maildrop is as the user's last complete
// learn on this backend left it: that learn is younger than Recheck, this
// session deleted nothing, STAT gives the same count and size, a UIDL
// listing the client asked for is the same listing, and every message it
// retrieved (RETR or TOP) has the fingerprint stored for that message
// number (one store read, only then). A complete learn is one whose every listed message had a
// fingerprint, stored or learned, whose save succeeded, and whose session
// deleted nothing; any other session forgets it. The risk left is a
// message removed outside popgate while another of exactly the same size
// arrives, both within the window and in a session whose client neither
// lists UIDL nor retrieves the new message: that message is learned only once the window has passed
// (until then a move of the user would give it a new UIDL).
func (l *Learner) Update(ctx context.Context) (pop3.UpdateResult, error) {
	if !l.asLastLearned(ctx) {
		complete := l.learnRest(ctx)
		saved := l.save(ctx)
		l.note(ctx, complete && saved)
	}
	return l.Mailbox.Update(ctx)
}

// asLastLearned reports whether the maildrop is as the last complete learn
// recorded it, and if so marks the session as saved.
func (l *Learner) asLastLearned(ctx context.Context) bool {
	if l.rec == nil {
		return false
	}
	last, ok := l.rec.fresh(recordKey{l.user, l.backend})
	if !ok {
		return false
	}
	l.mu.Lock()
	deleted := len(l.deleted) > 0
	sameListing := l.uids == nil || l.rec.listingSum(l.uids) == last.listing
	learned := maps.Clone(l.fps)
	l.mu.Unlock()
	if deleted || !sameListing {
		return false
	}
	n, size, err := l.Mailbox.Stat(ctx)
	if err != nil || n != last.count || size != last.size || !l.knownAlready(ctx, learned) {
		return false
	}
	l.mu.Lock()
	l.saved, l.unchanged = true, true
	l.mu.Unlock()
	return true
}

// knownAlready reports whether every fingerprint learned from RETR or TOP
// in this session is the one stored for that message number by the last
// listing: then the session learned nothing new. It reads the store only
// when something was learned.
func (l *Learner) knownAlready(ctx context.Context, learned map[int]string) bool {
	if len(learned) == 0 {
		return true
	}
	es, err := l.o.Store.Legacy(ctx, l.user)
	if err != nil {
		return false
	}
	stored := make(map[int]string, len(es))
	for _, e := range es {
		if !e.Gone {
			stored[e.Seq] = e.Fingerprint
		}
	}
	for n, fp := range learned {
		if stored[n] != fp {
			return false
		}
	}
	return true
}

// note records a complete learn of a session that deleted nothing, with
// the maildrop's STAT, and forgets the user's record after any other.
func (l *Learner) note(ctx context.Context, complete bool) {
	if l.rec == nil {
		return
	}
	k := recordKey{l.user, l.backend}
	l.mu.Lock()
	listed, keep := len(l.uids), complete && len(l.deleted) == 0
	var sum uint64
	if keep {
		sum = l.rec.listingSum(l.uids)
	}
	l.mu.Unlock()
	if keep {
		// STAT answers from the login's while nothing is deleted.
		n, size, err := l.Mailbox.Stat(ctx)
		if err == nil && n == listed {
			l.rec.remember(k, maildropState{count: n, size: size, listing: sum})
			return
		}
	}
	l.rec.forget(k)
}

// Close implements pop3.Mailbox, saving what was learned.
func (l *Learner) Close() error {
	l.save(context.Background())
	return l.Mailbox.Close()
}

// Report puts how much was learned on the session line (uidl_learned,
// uidl_fetched, and uidl_unchanged when Update skipped learning).
func (l *Learner) Report(r *session.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Learning = &session.Learning{Learned: len(l.fps), Fetched: l.fetched, Unchanged: l.unchanged}
}

// learnRest fetches "TOP n 0" for messages whose fingerprint is neither
// stored nor learned this session. Deadlines are not put on the reads: an
// interrupted TOP would break the connection the UPDATE still needs, so
// the time budget only stops new fetches. It reports whether every listed
// message not deleted now has a fingerprint, stored or learned.
func (l *Learner) learnRest(ctx context.Context) bool {
	budget, budgetTime := l.o.budget()
	if budget == 0 {
		return false
	}
	l.mu.Lock()
	listed := l.uids != nil
	l.mu.Unlock()
	if !listed {
		list, err := l.Mailbox.Uidl(ctx, 0)
		if err != nil {
			l.o.logger().Debug("uidl learning: no listing", zap.String("user", l.user), zap.String("backend", l.backend), zap.Error(err))
			return false
		}
		l.remember(list)
	}
	known, err := l.storedFingerprints(ctx)
	if err != nil {
		l.o.logger().Warn("uidl learning: store unavailable", zap.String("user", l.user), zap.Error(err))
		return false
	}
	var todo []int
	l.mu.Lock()
	for n, uid := range l.uids {
		if l.deleted[n] || l.fps[n] != "" || known[uid] {
			continue
		}
		todo = append(todo, n)
	}
	l.mu.Unlock()
	slices.Sort(todo)
	start := time.Now()
	for i, n := range todo {
		if i >= budget || time.Since(start) >= budgetTime || ctx.Err() != nil {
			return false
		}
		fp, err := fingerprintOf(l.Mailbox.Top(ctx, n, 0))
		if err != nil {
			l.o.logger().Debug("uidl learning: top failed", zap.String("user", l.user), zap.Int("msg_num", n), zap.Error(err))
			return false // the connection may be unusable: leave it to the UPDATE
		}
		l.mu.Lock()
		l.fps[n] = fp
		l.fetched++
		l.mu.Unlock()
	}
	return true
}

// storedFingerprints returns the legacy UIDLs whose fingerprint is stored
// and unambiguous (a UIDL shown for several messages needs each one learned).
func (l *Learner) storedFingerprints(ctx context.Context) (map[string]bool, error) {
	es, err := l.o.Store.Legacy(ctx, l.user)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(es))
	for _, e := range es {
		if e.Fingerprint != "" && e.Dup == 0 {
			known[e.UIDL] = true
		}
	}
	for _, e := range es {
		if e.Dup > 0 {
			delete(known, e.UIDL)
		}
	}
	return known, nil
}

// save records the listing with every fingerprint known for it, once. It
// reports whether this call saved it.
func (l *Learner) save(ctx context.Context) bool {
	l.mu.Lock()
	if l.saved || l.uids == nil {
		l.mu.Unlock()
		return false
	}
	l.saved = true
	entries := listingEntries(l.uids, l.fps)
	l.mu.Unlock()
	if err := l.o.Store.SetLegacy(ctx, l.user, entries); err != nil {
		l.o.logger().Warn("uidl learning: not saved", zap.String("user", l.user), zap.String("backend", l.backend), zap.Error(err))
		return false
	}
	return true
}

// listingEntries turns a listing into store entries, numbering repeated
// UIDLs in maildrop order.
func listingEntries(uids, fps map[int]string) []store.Entry {
	nums := make([]int, 0, len(uids))
	for n := range uids {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	seen := make(map[string]int, len(nums))
	out := make([]store.Entry, 0, len(nums))
	for _, n := range nums {
		u := uids[n]
		out = append(out, store.Entry{UIDL: u, Dup: seen[u], Fingerprint: fps[n], Seq: n})
		seen[u]++
	}
	return out
}
