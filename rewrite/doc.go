// Package rewrite keeps a user's POP3 unique-ids (UIDLs) stable when the
// user's maildrop moves from a legacy server to another backend.
//
// While a user is served by the legacy server, a Learner wraps the
// session's Mailbox and records each message's legacy UIDL with a
// fingerprint of its headers (see Fingerprinter): from what RETR and TOP
// stream through anyway, and at QUIT from "TOP n 0" for a bounded number of
// messages not seen yet. A Decorator's Learners share a record of complete
// learns, so that QUIT skips that work while a maildrop keeps the STAT it
// had when it was last learned completely (see Learner.Update).
//
// After the move a Mapper wraps the new backend's Mailbox and answers UIDL
// with the legacy UIDL of every message whose fingerprint matches
// (identical messages pair one-to-one in maildrop order), caching the pairs
// so later sessions cost a lookup. Messages with no legacy counterpart keep
// a new UIDL that never equals a legacy one; each is counted
// (uidl_unmapped) and logged, and only that message changes.
//
// Of popgate's packages, rewrite imports only pop3, store and uidl.
package rewrite
