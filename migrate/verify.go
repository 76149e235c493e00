package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Store    store.UIDLStore
	User     string
	Password string
	// Legacy opens the user's maildrop on the legacy server.
	Legacy pop3.Opener
}

// VerifyResult compares the legacy server's UIDL list with the map.
type VerifyResult struct {
	// Matching UIDLs are in both (counting repeats); Missing are in the
	// map (as present) but not on the server; Extra on the server but not
	// in the map. Different counts positions where both have a message
	// but the UIDLs disagree: a sign of a wrong import scheme.
	Matching, Missing, Extra, Different int
	// NoFingerprint counts matching messages whose fingerprint is not
	// known yet, so they could not be mapped after a move.
	NoFingerprint int
}

// OK reports whether the map agrees with the server.
func (r VerifyResult) OK() bool { return r.Missing == 0 && r.Extra == 0 }

func (r VerifyResult) String() string {
	return fmt.Sprintf("matching %d, missing %d, extra %d, different %d, without fingerprint %d",
		r.Matching, r.Missing, r.Extra, r.Different, r.NoFingerprint)
}

// Verify logs in to the legacy server as the user, lists its UIDLs and
// compares them with the user's map. It leaves the maildrop untouched.
func Verify(ctx context.Context, o VerifyOptions) (VerifyResult, error) {
	var r VerifyResult
	if o.Store == nil || o.Legacy == nil {
		return r, errors.New("verify: store and legacy server required")
	}
	es, err := o.Store.Legacy(ctx, o.User)
	if err != nil {
		return r, err
	}
	m, err := o.Legacy.Open(ctx, pop3.Credentials{Mechanism: pop3.MechUser, User: o.User, Password: o.Password, SessionID: "uidl-verify"})
	if err != nil {
		return r, fmt.Errorf("verify %s: login: %w", o.User, err)
	}
	defer m.Close() // no UPDATE: nothing changes
	list, err := m.Uidl(ctx, 0)
	if err != nil {
		return r, fmt.Errorf("verify %s: uidl: %w", o.User, err)
	}
	return compare(es, list), nil
}

func compare(es []store.Entry, list []pop3.MsgInfo) VerifyResult {
	var r VerifyResult
	inMap := map[string][]store.Entry{}
	bySeq := map[int]string{}
	for _, e := range es {
		if e.Gone {
			continue
		}
		inMap[e.UIDL] = append(inMap[e.UIDL], e)
		bySeq[e.Seq] = e.UIDL
	}
	onServer := map[string]int{}
	for _, mi := range list {
		onServer[mi.UID]++
	}
	for _, mi := range list {
		if len(inMap[mi.UID]) > 0 {
			e := inMap[mi.UID][0]
			inMap[mi.UID] = inMap[mi.UID][1:]
			r.Matching++
			if e.Fingerprint == "" {
				r.NoFingerprint++
			}
			continue
		}
		r.Extra++
		if u, ok := bySeq[mi.Num]; ok && onServer[u] == 0 {
			r.Different++
		}
	}
	for _, rest := range inMap {
		r.Missing += len(rest)
	}
	return r
}
