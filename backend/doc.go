// Package backend is popgate's native POP3 backend: it authenticates users
// itself (through an Authenticator) and serves their maildrops from mbox
// spools or Maildirs, with locking that mail delivery agents honour, an
// incremental index so polls cost O(new mail), and selectable UIDL schemes.
//
// A Backend implements pop3.Opener; the Mailbox it opens implements
// pop3.Mailbox. Errors are *pop3.Error values whose Text is safe to show a
// client and whose Err names the backend, the user, the mailbox path and
// the cause, for the session log.
package backend
