package session

import (
	"context"

	"github.com/popgate/popgate/pop3"
)

// Gate is the login policy hook. The session calls it in this order:
//
//	Caps()                       CAPA lines shown before login
//	Admit(ctx, info)             after the credentials, before the backend is opened
//	adm.Authenticated(...)       with the login's outcome
//	adm.Mailbox(m)               on success, to wrap the Mailbox
//	adm.Caps()                   CAPA lines shown after login
//	adm.Release()                once, at the end of the session
//	adm.Report(rec)              once, for the session line
//
// A client that tries several logins in one session gets an Admit per try;
// every Admission returned is released.
type Gate interface {
	// Caps returns lines added to the CAPA list before login, such as
	// "LOGIN-DELAY 900 USER".
	Caps() []string
	// Admit may sleep (honouring ctx) or refuse the login with a
	// *pop3.Error (such as [LOGIN-DELAY] or [SYS/TEMP]), which the client
	// sees as is; the session line then says result "throttled". It may
	// return a non-nil Admission together with an error, so that the delay
	// or penalty still reaches the session line; it is then released too.
	Admit(ctx context.Context, s *Info) (Admission, error)
}

// Admission is one admitted login attempt.
type Admission interface {
	// Authenticated reports the outcome of Open: err is nil on success, and
	// msgs and size are then the maildrop at login (STAT).
	Authenticated(err error, msgs int, size int64)
	// Mailbox may wrap the user's Mailbox (bandwidth shaping); otherwise it
	// returns m.
	Mailbox(m pop3.Mailbox) pop3.Mailbox
	// Caps returns lines added to the CAPA list after login, such as the
	// user's own "LOGIN-DELAY 300".
	Caps() []string
	// Release frees whatever Admit reserved. Called exactly once.
	Release()
	Reporter
}

// Refuser is an Admission that may still refuse a login after the backend
// accepted the credentials, such as [LOGIN-DELAY]: refusing only then tells
// nothing about the account to someone without its password. The session
// calls Refusal right after Authenticated(nil, ...) and, on an error,
// closes the maildrop without UPDATE and answers the error as Admit's.
type Refuser interface {
	Refusal() error
}
