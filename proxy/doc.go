// Package proxy is popgate's client-facing POP3 server. It terminates TLS
// (STLS and implicit), accepts PROXY protocol headers from trusted balancers,
// runs the AUTHORIZATION dialogue itself, opens the user's maildrop on the
// routed backend through a pop3.Opener, and relays the TRANSACTION commands
// to the resulting pop3.Mailbox. Every connection ends with exactly one
// "session" log line.
//
// The package knows nothing about what sits behind a Mailbox: backends,
// decorators and login policy are handed in through Options.
package proxy
