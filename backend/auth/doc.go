// Package auth checks the passwords of users served by the native backend:
// from a users file of bcrypt, SHA-crypt or plain entries, or by delegating
// the check to the legacy POP3 server the users are moving away from.
//
// A refusal is always an error whose pop3.CodeOf is pop3.CodeAuth and whose
// client text is that of pop3.ErrAuthFailed, whatever the reason; the reason
// (unknown user, wrong password) is only in the wrapped cause, for the log.
// Passwords never appear in any error.
package auth
