package pop3test

import (
	"context"
	"sync"

	"github.com/popgate/popgate/pop3"
)

// Opener authenticates against a fixed table of passwords and hands out
// Mailboxes made by NewMailbox (a fresh one per login unless it returns a
// shared one). It records the credentials it was given.
type Opener struct {
	Passwords map[string]string
	// NewMailbox builds the maildrop of a user who logged in.
	NewMailbox func(user string) pop3.Mailbox
	// Err, when set, fails every Open with it.
	Err error
	// APOP makes the Opener claim APOP support; digests are not checked, any
	// user with a password entry is accepted.
	APOP bool

	mu    sync.Mutex
	creds []pop3.Credentials
}

var _ pop3.Opener = (*Opener)(nil)

// Open implements pop3.Opener.
func (o *Opener) Open(ctx context.Context, c pop3.Credentials) (pop3.Mailbox, error) {
	o.mu.Lock()
	o.creds = append(o.creds, c)
	o.mu.Unlock()
	if o.Err != nil {
		return nil, o.Err
	}
	want, ok := o.Passwords[c.User]
	if !ok || (!digest[c.Mechanism] && c.Password != want) {
		return nil, pop3.ErrAuthFailed
	}
	return o.NewMailbox(c.User), nil
}

// digest are the mechanisms whose digests the fake takes as valid.
var digest = map[pop3.Mechanism]bool{pop3.MechAPOP: true, pop3.MechCRAMMD5: true}

// SupportsAPOP implements pop3.APOPer.
func (o *Opener) SupportsAPOP() bool { return o.APOP }

// Credentials returns what Open was called with, in order.
func (o *Opener) Credentials() []pop3.Credentials {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]pop3.Credentials(nil), o.creds...)
}
