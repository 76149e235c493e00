// Package throttle slows down the users who load a mail server most, and
// only them: hogs (large maildrops polled too often) get a login delay, a
// narrower pipe for RETR/TOP and a lower place in the per-backend admission
// queue, while everyone else goes straight through. Password guessing is
// slowed per client address and per user name.
//
// A session goes through it like this:
//
//	t.Caps()                                           // CAPA before login
//	tk, err := t.AdmitUser(ctx, user, backend, client) // before the backend login
//	mb, err := opener.Open(ctx, creds)                 // then STAT
//	tk.Authenticated(err, msgs, bytes)                 // counts [AUTH] failures; sets the final level
//	mb = tk.Mailbox(mb)                                // shaping; remembers what UPDATE leaves
//	tk.Caps()                                          // CAPA after login
//	tk.Release()                                       // always, when the session ends
//	tk.Report(&record)                                 // penalty, delay and reason for the session line
//
// Throttle is a session.Gate and Ticket a session.Admission: the proxy
// calls them directly, Admit taking the user, backend and client address
// from the session.Info (see gate.go).
//
// # The penalty level
//
// At each login the user's maildrop size and poll interval give two factors:
//
//	size      s = max(bytes / SoftBytes, msgs / SoftMsgs)
//	frequency f = MinPollInterval / (time since the user's previous login)
//
// The level is 0 unless both factors exceed 1; otherwise it is
// ceil(log2(s × f)), at most MaxLevel. It is therefore monotonic in size and
// in poll frequency, and it decays by itself: a user who deletes mail down to
// the soft limits, or who waits at least MinPollInterval between logins, is
// at level 0 on the next poll. Before the backend login only the size left
// at the end of the previous session is known, so admission uses that;
// Opened recomputes the level from the STAT seen at this login.
//
// # Effects
//
//   - Login delay: min(level × DelayPerLevel, MaxDelay), slept before the
//     backend login (so before the +OK to PASS/AUTH) without holding a
//     backend session.
//   - Shaping: RETR and TOP of a session at level L > 0 are limited to
//     Bandwidth / L bytes per second.
//   - Admission: a backend with a session limit admits in order of level
//     (lower first, FIFO within a level) and answers [SYS/TEMP] after
//     QueueTimeout. Penalised sessions share at most a quarter of its
//     slots (at least one), so users at full speed do not wait for hogs'
//     long sessions to end.
//   - LOGIN-DELAY (RFC 2449): the capability is announced as
//     "LOGIN-DELAY 0 USER" before login and as the user's own value after
//     (MinPollInterval for a penalised user, 0 otherwise). With
//     EnforceLoginDelay a penalised login by a user told a LOGIN-DELAY
//     above 0 at the previous login is refused with [LOGIN-DELAY] instead
//     of being delayed (a user told 0 is delayed and told its new value).
//     The refusal (Ticket.Refusal, a session.Refuser) comes only after the
//     backend accepted the password, so it reveals nothing about the
//     account to a guesser; a refused attempt never counts as a login.
//
// # Authentication failures
//
// Failures are counted per client address, per client network (the
// address's first AuthFailIPv4Prefix or AuthFailIPv6Prefix bits), per
// (user, client address) and per user, each forgotten AuthFailWindow after
// its last failure. A login counts as a failure from Admit until its
// verdict (reserved in the same locked step as the check, released on
// success or when no verdict comes), so a thousand parallel guesses
// verify at most AuthFailLimit passwords. A client
// address that has no failures of its own is never delayed or refused,
// whatever others did against the same user: that is the guarantee that a
// well-behaved client with the right password gets in at full speed even
// while the account is under attack. A client that has failed is delayed
// AuthFailBaseDelay × 2^(k-1) (at most AuthFailMaxDelay), where k is the
// larger of its failures against this user and the user's failures from
// anywhere, so an attack spread over many addresses still slows down after
// one try per address. It is refused ([SYS/TEMP]) after AuthFailLimit
// failures against one user, or AuthFailClientLimit failures in all; any
// address of a network with AuthFailNetworkLimit failures is refused too.
// A successful login forgives the client's own failures against that user
// (typos), not anyone else's. Clients behind one NAT share an address, so
// the per-address limit is set high.
//
// # State
//
// Per-user state lives behind the State interface; the default is an
// in-memory LRU (golang-lru/v2) of StateSize users, so Show only sees users
// of the process that serves them. Authentication failures live in their
// own LRUs, so spraying made-up user names cannot evict the penalties of
// real users.
//
// # Settings
//
// Config holds the thresholds, each documented on its field; DefaultConfig
// has the defaults, and the config package fills a Config in from the
// environment. With Mode off nobody is penalised, but the admission queue
// still enforces the backends' session limits.
//
// A backend's session limit comes from its URL (max_sessions) and is
// handed in through Options.MaxSessions.
package throttle
