package rewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
)

// errUIDLUnavailable is what the client sees when the map cannot be read:
// failing the UIDL command makes the client retry later instead of
// downloading every message again under new unique-ids.
var errUIDLUnavailable = &pop3.Error{Code: pop3.CodeSysTemp, Text: "unique-ids temporarily unavailable"}

// Mapper wraps a moved user's Mailbox on the new backend and answers UIDL
// with legacy unique-ids.
type Mapper struct {
	pop3.Mailbox
	user, backend string
	o             Options

	mu       sync.Mutex
	byNum    map[int]Resolution // message number -> what the client sees
	mapped   int
	unmapped int
	// Messages resolved without a cached pair in this session, counted
	// once each (see resolve).
	newlyMapped, newMail, unmatched int
	// deleted is set by DELE: a listing no longer shows the whole
	// maildrop, so pairs missing from it must not be dropped.
	deleted bool
}

var _ pop3.Mailbox = (*Mapper)(nil)

// Map returns a Mapper around m, the Mailbox of user on backend.
func Map(m pop3.Mailbox, user, backend string, o Options) *Mapper {
	return &Mapper{Mailbox: m, user: user, backend: backend, o: o}
}

// Uidl implements pop3.Mailbox with legacy unique-ids.
func (m *Mapper) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	list, err := m.Mailbox.Uidl(ctx, n)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.covers(list) {
		full := list
		if n > 0 {
			full = nil
		}
		if err := m.resolve(ctx, full); err != nil {
			return nil, err
		}
	}
	out := make([]pop3.MsgInfo, len(list))
	for i, mi := range list {
		r, ok := m.byNum[mi.Num]
		if !ok {
			// The maildrop changed under the session; never guess.
			return nil, errUIDLUnavailable
		}
		mi.UID = r.UIDL
		out[i] = mi
	}
	return out, nil
}

// Dele implements pop3.Mailbox.
func (m *Mapper) Dele(ctx context.Context, n int) error {
	m.mu.Lock()
	m.deleted = true
	m.mu.Unlock()
	return m.Mailbox.Dele(ctx, n)
}

func (m *Mapper) covers(list []pop3.MsgInfo) bool {
	if m.byNum == nil {
		return false
	}
	for _, mi := range list {
		if _, ok := m.byNum[mi.Num]; !ok {
			return false
		}
	}
	return true
}

// Report puts the mapping on the session line (uidl_mapped,
// uidl_unmapped).
func (m *Mapper) Report(r *session.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Mapping = &session.Mapping{Mapped: m.mapped, Unmapped: m.unmapped,
		NewlyMapped: m.newlyMapped, New: m.newMail, Unmatched: m.unmatched}
}

// resolve maps every message of the maildrop; list is the backend's full
// listing, or nil to fetch it. Callers hold mu.
func (m *Mapper) resolve(ctx context.Context, list []pop3.MsgInfo) error {
	if list == nil {
		var err error
		if list, err = m.Mailbox.Uidl(ctx, 0); err != nil {
			return err
		}
	}
	pairs, err := m.o.Store.Pairs(ctx, m.user, m.backend)
	if err != nil {
		return m.unavailable(err)
	}
	byNum := make(map[int]Resolution, len(list))
	taken := map[string]bool{}
	consumed := map[string]bool{}
	var todo []pop3.MsgInfo
	for _, mi := range list {
		p, ok := pairs[mi.UID]
		if !ok || taken[p.UIDL] {
			todo = append(todo, mi)
			continue
		}
		taken[p.UIDL] = true
		if p.Mapped {
			consumed[p.UIDL] = true
		}
		byNum[mi.Num] = Resolution(p)
	}
	firstMapping := len(pairs) == 0
	drop := m.stalePairs(pairs, list)
	if len(todo) == 0 { // every later session of a settled maildrop
		m.savePairs(ctx, nil, drop)
		m.settle(byNum)
		return nil
	}
	legacy, err := m.o.Store.Legacy(ctx, m.user)
	if err != nil {
		return m.unavailable(err)
	}
	cands := make([]Candidate, len(todo))
	for i, mi := range todo {
		cands[i].UID = mi.UID
	}
	if len(legacy) == 0 {
		// Never on a legacy server through popgate: nothing to keep, no
		// headers to read.
		for i, r := range Match(nil, cands, taken, consumed) {
			byNum[todo[i].Num] = r
		}
		m.settle(byNum)
		return nil
	}
	for i, mi := range todo {
		if cands[i].Fingerprint, err = m.fingerprint(ctx, mi.Num); err != nil {
			return err
		}
	}
	res := Match(legacy, cands, taken, consumed)
	fresh := make(map[string]store.Pair, len(todo))
	for i, mi := range todo {
		r := res[i]
		byNum[mi.Num] = r
		if cands[i].Fingerprint != "" {
			fresh[mi.UID] = store.Pair(r)
		}
	}
	// At the first mapping after the move, as many unmatched messages as
	// legacy messages went unmatched may be those, the earliest first
	// (mail is appended); the rest arrived after the move. Later, a
	// message without a pair is new mail.
	old := 0
	if firstMapping {
		old = leftoverLegacy(legacy, byNum)
	}
	for i, mi := range todo {
		r := res[i]
		switch {
		case r.Mapped:
			m.newlyMapped++
		case old > 0 || cands[i].Fingerprint == "":
			old--
			// Old mail the client may already have under its legacy
			// UIDL: it will download it again. A message whose headers
			// could not be read is retried, and counted, every session.
			m.unmatched++
			m.o.logger().Warn("uidl: old message has no legacy unique-id, serving a new one",
				zap.String("user", m.user), zap.String("backend", m.backend),
				zap.Int("msg_num", mi.Num), zap.String("backend_uidl", mi.UID), zap.String("uidl", r.UIDL),
				zap.Bool("headers_read", cands[i].Fingerprint != ""))
		default:
			m.newMail++
		}
	}
	m.savePairs(ctx, fresh, drop)
	m.settle(byNum)
	return nil
}

// leftoverLegacy counts the user's present legacy messages that no message
// of byNum shows the UIDL of.
func leftoverLegacy(legacy []store.Entry, byNum map[int]Resolution) int {
	shown := map[string]int{}
	for _, r := range byNum {
		if r.Mapped {
			shown[r.UIDL]++
		}
	}
	n := 0
	for _, e := range legacy {
		switch {
		case e.Gone:
		case shown[e.UIDL] > 0:
			shown[e.UIDL]--
		default:
			n++
		}
	}
	return n
}

// stalePairs returns the cached pairs of messages no longer in the
// maildrop, unless this session's listing may be partial. Callers hold mu.
func (m *Mapper) stalePairs(pairs map[string]store.Pair, list []pop3.MsgInfo) []string {
	if m.deleted || len(pairs) == 0 {
		return nil
	}
	present := make(map[string]bool, len(list))
	for _, mi := range list {
		present[mi.UID] = true
	}
	var drop []string
	for k := range pairs {
		if !present[k] {
			drop = append(drop, k)
		}
	}
	return drop
}

func (m *Mapper) savePairs(ctx context.Context, put map[string]store.Pair, drop []string) {
	if err := m.o.Store.UpdatePairs(ctx, m.user, m.backend, put, drop); err != nil {
		// The pairs are recomputed next session; this one stays correct.
		m.o.logger().Warn("uidl: pairs not saved", zap.String("user", m.user), zap.String("backend", m.backend), zap.Error(err))
	}
}

// settle installs a resolution and counts it. Callers hold mu.
func (m *Mapper) settle(byNum map[int]Resolution) {
	m.byNum, m.mapped, m.unmapped = byNum, 0, 0
	for _, r := range byNum {
		if r.Mapped {
			m.mapped++
		} else {
			m.unmapped++
		}
	}
}

func (m *Mapper) unavailable(err error) error {
	return &pop3.Error{Code: errUIDLUnavailable.Code, Text: errUIDLUnavailable.Text,
		Err: fmt.Errorf("uidl map of %s on %s: %w", m.user, m.backend, err)}
}

// fingerprint reads message n's headers with "TOP n 0", or with RETR for a backend without TOP (as
// Dovecot's pop3c does). A refusal for this message alone (a permanent
// *pop3.Error) leaves it without a fingerprint, so it gets a new UIDL and
// is retried next session; anything else fails the command.
func (m *Mapper) fingerprint(ctx context.Context, n int) (string, error) {
	fp, err := fingerprintOf(m.Mailbox.Top(ctx, n, 0))
	if refused(err) {
		fp, err = fingerprintOf(m.Mailbox.Retr(ctx, n))
	}
	switch {
	case err == nil:
		return fp, nil
	case refused(err):
		return "", nil
	}
	return "", fmt.Errorf("uidl map of %s on %s: headers of message %d: %w", m.user, m.backend, n, err)
}

// refused reports a permanent POP3 refusal, as opposed to a broken backend.
func refused(err error) bool {
	var pe *pop3.Error
	return errors.As(err, &pe) && !pe.Temporary()
}

// fingerprintOf fingerprints a body returned by Top, Retr or Headers.
func fingerprintOf(rc io.ReadCloser, err error) (string, error) {
	if err != nil {
		return "", err
	}
	fp, err := Fingerprint(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return fp, err
}
