// Package poison catches messages a user's mail client cannot take: one
// whose malformed MIME part crashes the client, or that is too big for
// its timeout, so that the client dies on it at every poll and never gets
// the mail behind it. No POP3 server sees this; popgate does, because it
// sees each transfer break.
//
// Its Decorator remembers, per user in a store.BreakStore (so across
// instances and restarts), the message the latest sessions broke on, by
// UIDL. After Limit broken transfers in a row it logs one warning naming
// the message and flags it. An optional Action then holds a flagged
// message for that user until an operator releases it: "skip" hides it
// from STAT, LIST, UIDL and RETR, "replace" serves a short text in its
// place saying that a message was held and why.
package poison
