package backend

import (
	"context"
	"time"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// Kinds of maildrop store.
const (
	KindMbox    = "mbox"
	KindMaildir = "maildir"
)

// DefaultLockTimeout is how long Open and Update wait for a delivery agent
// to release an mbox spool.
const DefaultLockTimeout = 10 * time.Second

// Authenticator checks a user's credentials. A refusal is an error whose
// pop3.CodeOf is pop3.CodeAuth. The users-file and delegated authenticators
// of backend/auth implement it.
type Authenticator interface {
	Authenticate(ctx context.Context, c pop3.Credentials) error
}

// APOPChecker is implemented by an Authenticator that can verify APOP for
// the users whose secret it holds in plain form.
type APOPChecker interface {
	CanAPOP(user string) bool
}

// Options configure a Backend. Zero values mean the documented defaults.
type Options struct {
	// Name identifies the backend in errors and logs.
	Name string
	// Kind is KindMbox or KindMaildir.
	Kind string
	// PathPattern locates a user's maildrop: %u is the user name, %n its
	// local part (before the last '@'), %d its domain part, %% a '%'. User
	// names that could escape the pattern's directory are refused.
	PathPattern string
	// UIDL is the unique-id scheme; zero means uidl.Native.
	UIDL uidl.Scheme
	// HideHeaders leaves out the headers only mail stores use (Status,
	// X-Status, X-UIDL, X-IMAP, X-IMAPbase, X-UID, X-Keywords,
	// Content-Length). The default serves them, as popa3d does.
	HideHeaders bool
	// Auth checks credentials. Required.
	Auth Authenticator
	// AuthBackend names the legacy backend that checks the passwords of
	// users missing from the users file (delegated mode, so users can move
	// before their passwords do). The backend itself only records it: the
	// caller builds Auth accordingly.
	AuthBackend string
	// DataDir holds the persisted index (index.db) and session locks. Empty
	// keeps both in memory only.
	DataDir string
	// IndexCacheSize bounds the number of maildrop indexes held in memory;
	// zero means index.DefaultCacheSize.
	IndexCacheSize int
	// LockTimeout bounds the wait for an mbox spool lock; zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// Leases, when set, make the one-session-per-maildrop lock hold across
	// popgate instances; Instance (the host name) names this one to the
	// others.
	Leases   lock.Leases
	Instance string
}
