package pop3

import (
	"context"
	"io"
	"net"
)

// MsgInfo describes one message of a maildrop. Num is 1-based.
type MsgInfo struct {
	Num  int
	Size int64  // octets as RETR delivers them, CRLF line ends, unstuffed
	UID  string // unique-id (RFC 1939 section 7)
}

// UpdateResult is what the UPDATE state did to the maildrop.
type UpdateResult struct {
	DeletedMsgs  int
	DeletedBytes int64
	LeftMsgs     int
	LeftBytes    int64
}

// Mailbox is one authenticated maildrop in the TRANSACTION state. It has one
// method per command. Message numbers are 1-based. Bodies are returned
// unstuffed, with CRLF line ends; the caller dot-stuffs them toward the
// client. A Mailbox is used by one session at a time.
type Mailbox interface {
	// Stat returns the number and total size of messages not marked deleted.
	Stat(ctx context.Context) (count int, size int64, err error)
	// List returns Num and Size of every message not marked deleted, or of
	// message n alone when n > 0.
	List(ctx context.Context, n int) ([]MsgInfo, error)
	// Uidl returns Num and UID of every message not marked deleted, or of
	// message n alone when n > 0.
	Uidl(ctx context.Context, n int) ([]MsgInfo, error)
	// Retr returns message n. The caller must Close the reader.
	Retr(ctx context.Context, n int) (io.ReadCloser, error)
	// Top returns the headers of message n and the first lines of its body.
	Top(ctx context.Context, n, lines int) (io.ReadCloser, error)
	// Dele marks message n deleted.
	Dele(ctx context.Context, n int) error
	// Rset unmarks every deleted message.
	Rset(ctx context.Context) error
	// Noop does nothing, but may keep a remote session alive.
	Noop(ctx context.Context) error
	// Update commits deletions (QUIT in TRANSACTION) and releases the maildrop.
	Update(ctx context.Context) (UpdateResult, error)
	// Close releases the maildrop without committing deletions.
	Close() error
}

// Capabler is implemented by a Mailbox that adds capabilities to the CAPA
// list shown after login, such as "LOGIN-DELAY 900" or "EXPIRE NEVER".
type Capabler interface {
	Caps() []string
}

// Mechanism says how a client authenticated.
type Mechanism string

// Authentication mechanisms.
const (
	MechUser  Mechanism = "USER"  // USER and PASS
	MechPlain Mechanism = "PLAIN" // AUTH PLAIN (RFC 5034, RFC 4616)
	MechAPOP  Mechanism = "APOP"  // APOP digest over the greeting timestamp
	// MechLogin is AUTH LOGIN (draft-murchison-sasl-login): user name and
	// password in two base64 steps.
	MechLogin Mechanism = "LOGIN"
	// MechCRAMMD5 is AUTH CRAM-MD5 (RFC 2195).
	MechCRAMMD5 Mechanism = "CRAM-MD5"
)

// CarriesPassword reports whether credentials of this mechanism hold the
// password itself (USER/PASS, PLAIN, LOGIN), rather than a digest.
func (m Mechanism) CarriesPassword() bool {
	return m == MechUser || m == MechPlain || m == MechLogin
}

// Credentials are what a client presented at login.
type Credentials struct {
	Mechanism Mechanism
	User      string
	Password  string // USER/PASS and PLAIN; never logged
	// APOP: Digest is the client's MD5 hex digest and Timestamp the
	// greeting's <...> challenge it was computed over. CRAM-MD5: Digest is
	// the client's HMAC-MD5 hex digest and Timestamp the challenge.
	Digest    string
	Timestamp string
	// Client is the real client address (after a PROXY header), Local the
	// address it connected to.
	Client net.Addr
	Local  net.Addr
	// SessionID identifies the client session in logs.
	SessionID string
	// Greeted, when set, is the connection whose greeting gave the
	// client its APOP timestamp (see Greeter). The Opener that made it
	// logs in on it, and owns it from then on; others ignore it.
	Greeted Greeted
}

// Greeter is implemented by an Opener that can verify APOP only over a
// connection it opened before the client's greeting: a relay to a server
// whose own timestamp the client must see. client and local are the
// client's addresses (client nil when not known yet).
type Greeter interface {
	Greet(ctx context.Context, client, local net.Addr) (Greeted, error)
}

// SASLChallenger is implemented by a Greeted connection that can relay a
// challenge-response SASL mechanism (CRAM-MD5) to its server.
type SASLChallenger interface {
	// Offers reports whether the server offers mech; it may ask it.
	Offers(ctx context.Context, mech Mechanism) bool
	// Challenge starts AUTH mech on the connection and returns the
	// server's challenge, decoded. The client's answer goes to Open in
	// Credentials (Digest, with the challenge as Timestamp).
	Challenge(ctx context.Context, mech Mechanism) (string, error)
}

// Greeted is a connection opened by a Greeter and not logged in yet.
type Greeted interface {
	// Timestamp is the server's APOP challenge, "<...>".
	Timestamp() string
	// Close drops the connection, when no login uses it.
	Close() error
}

// Opener opens a user's maildrop: it authenticates the credentials and
// returns the Mailbox. A refused login returns an error whose CodeOf is
// CodeAuth; a busy maildrop CodeInUse; anything else is a backend failure.
type Opener interface {
	Open(ctx context.Context, c Credentials) (Mailbox, error)
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(ctx context.Context, c Credentials) (Mailbox, error)

// Open calls f.
func (f OpenerFunc) Open(ctx context.Context, c Credentials) (Mailbox, error) { return f(ctx, c) }

var _ Opener = OpenerFunc(nil)

// APOPer is implemented by an Opener that can verify APOP digests for at
// least some users. The proxy advertises APOP (a greeting timestamp is always
// sent) but refuses it unless the chosen backend implements this and returns
// true.
type APOPer interface {
	SupportsAPOP() bool
}
