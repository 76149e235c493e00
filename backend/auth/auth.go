package auth

import (
	"context"
	"errors"

	"github.com/popgate/popgate/pop3"
)

// Authenticator checks a client's credentials. A refusal is an error with
// pop3.CodeOf(err) == pop3.CodeAuth; any other error means the check could
// not be made (a temporary failure, typically pop3.CodeSysTemp).
type Authenticator interface {
	Authenticate(ctx context.Context, c pop3.Credentials) error
}

// APOPChecker is implemented by authenticators that can verify APOP digests
// for some users: those whose secret is stored in plain form.
type APOPChecker interface {
	CanAPOP(user string) bool
}

// Causes wrapped inside refusals, for logs and for Chain.
var (
	// ErrUnknownUser: the authenticator has no entry for the user. Chain
	// moves on to the next authenticator only for this cause.
	ErrUnknownUser = errors.New("auth: unknown user")
	// ErrWrongPassword: the password or APOP digest did not match.
	ErrWrongPassword = errors.New("auth: wrong password")
	// ErrNoAPOPSecret: APOP was tried for a user without a plain secret.
	ErrNoAPOPSecret = errors.New("auth: APOP needs a {PLAIN} secret")
	// ErrMechanism: the credentials use a mechanism this authenticator
	// cannot check.
	ErrMechanism = errors.New("auth: unsupported mechanism")
)

// refuse returns the client-facing authentication failure carrying cause.
// Every refusal has the same code and text, so a client cannot tell an
// unknown user from a wrong password.
func refuse(cause error) error {
	return &pop3.Error{Code: pop3.CodeAuth, Text: pop3.ErrAuthFailed.Text, Err: cause}
}
