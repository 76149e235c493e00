// Package pop3test holds test support shared by the proxy's tests and any
// package that talks POP3: an in-memory Mailbox with knobs for injected
// failures, an Opener over a table of users, a runner for scripted client
// conversations, and a fake POP3 server that plays hand-written
// conversations or canned replies with faults (hang, close mid-reply, slow
// bytes) for tests of clients.
package pop3test
