// Package pop3test holds test support shared by the proxy's tests and any
// package that relays to a pop3.Mailbox: an in-memory Mailbox with knobs for
// injected failures, an Opener over a table of users, and a runner for
// scripted client conversations.
package pop3test
