package auth

import (
	"context"
	"errors"

	"github.com/popgate/popgate/pop3"
)

// Chain tries each authenticator in turn, moving to the next only when one
// does not know the user (its refusal wraps ErrUnknownUser). A wrong
// password for a known user is final, so a user listed in a users file
// cannot fall back to an old password on the legacy server. The typical
// chain is the users file first, then Delegate for users not yet in it.
func Chain(as ...Authenticator) *Chained { return &Chained{as: as} }

// Chained is the Authenticator returned by Chain.
type Chained struct{ as []Authenticator }

var (
	_ Authenticator = (*Chained)(nil)
	_ APOPChecker   = (*Chained)(nil)
	_ pop3.APOPer   = (*Chained)(nil)
)

// Authenticate returns the first answer that is not "unknown user", or the
// last one.
func (c *Chained) Authenticate(ctx context.Context, cr pop3.Credentials) error {
	err := refuse(ErrUnknownUser)
	for _, a := range c.as {
		err = a.Authenticate(ctx, cr)
		if err == nil || !errors.Is(err, ErrUnknownUser) {
			return err
		}
	}
	return err
}

// CanAPOP reports whether a member that knows the user can verify APOP.
func (c *Chained) CanAPOP(user string) bool {
	for _, a := range c.as {
		if ac, ok := a.(APOPChecker); ok && ac.CanAPOP(user) {
			return true
		}
	}
	return false
}

// SupportsAPOP reports whether any member can verify APOP for some user.
func (c *Chained) SupportsAPOP() bool {
	for _, a := range c.as {
		if ap, ok := a.(pop3.APOPer); ok && ap.SupportsAPOP() {
			return true
		}
	}
	return false
}
