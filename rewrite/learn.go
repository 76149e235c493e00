package rewrite

import (
	"context"
	"io"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
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
func (l *Learner) Update(ctx context.Context) (pop3.UpdateResult, error) {
	l.learnRest(ctx)
	l.save(ctx)
	return l.Mailbox.Update(ctx)
}

// Close implements pop3.Mailbox, saving what was learned.
func (l *Learner) Close() error {
	l.save(context.Background())
	return l.Mailbox.Close()
}

// SessionFields reports how much was learned, for the session line.
func (l *Learner) SessionFields() []zap.Field {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []zap.Field{zap.Int("uidl_learned", len(l.fps)), zap.Int("uidl_fetched", l.fetched)}
}

// learnRest fetches "TOP n 0" for messages whose fingerprint is neither
// stored nor learned this session. Deadlines are not put on the reads: an
// interrupted TOP would break the connection the UPDATE still needs, so
// the time budget only stops new fetches.
func (l *Learner) learnRest(ctx context.Context) {
	budget, budgetTime := l.o.budget()
	if budget == 0 {
		return
	}
	l.mu.Lock()
	listed := l.uids != nil
	l.mu.Unlock()
	if !listed {
		list, err := l.Mailbox.Uidl(ctx, 0)
		if err != nil {
			l.o.logger().Debug("uidl learning: no listing", zap.String("user", l.user), zap.String("backend", l.backend), zap.Error(err))
			return
		}
		l.remember(list)
	}
	known, err := l.storedFingerprints(ctx)
	if err != nil {
		l.o.logger().Warn("uidl learning: store unavailable", zap.String("user", l.user), zap.Error(err))
		return
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
			return
		}
		fp, err := l.fetchFingerprint(ctx, n)
		if err != nil {
			l.o.logger().Debug("uidl learning: top failed", zap.String("user", l.user), zap.Int("msg", n), zap.Error(err))
			return // the connection may be unusable: leave it to the UPDATE
		}
		l.mu.Lock()
		l.fps[n] = fp
		l.fetched++
		l.mu.Unlock()
	}
}

func (l *Learner) fetchFingerprint(ctx context.Context, n int) (string, error) {
	rc, err := l.Mailbox.Top(ctx, n, 0)
	if err != nil {
		return "", err
	}
	fp, err := Fingerprint(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return fp, err
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

// save records the listing with every fingerprint known for it, once.
func (l *Learner) save(ctx context.Context) {
	l.mu.Lock()
	if l.saved || l.uids == nil {
		l.mu.Unlock()
		return
	}
	l.saved = true
	entries := listingEntries(l.uids, l.fps)
	l.mu.Unlock()
	if err := l.o.Store.SetLegacy(ctx, l.user, entries); err != nil {
		l.o.logger().Warn("uidl learning: not saved", zap.String("user", l.user), zap.String("backend", l.backend), zap.Error(err))
	}
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
