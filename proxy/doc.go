// Package proxy is popgate's client-facing POP3 server. It terminates TLS
// (STLS and implicit), accepts PROXY protocol headers from trusted balancers,
// runs the AUTHORIZATION dialogue itself, opens the user's maildrop on the
// routed backend through a pop3.Opener, and relays the TRANSACTION commands
// to the resulting pop3.Mailbox. Every connection ends with exactly one
// "session" log line.
//
// The package knows nothing about what sits behind a Mailbox: backends,
// decorators and login policy are handed in through Options, the latter
// two as the hooks of package session.
//
// Behaviour worth knowing:
//
//   - Garbage before login (an unknown command or a malformed line) gets one
//     -ERR and the connection is closed; after login, MaxProtocolErrors
//     consecutive protocol errors close it. Backend -ERR replies such as "no
//     such message" are not protocol errors.
//   - RETR answers "+OK <n> octets" when the body reader is a pop3.Sizer
//     (octets as sent, CRLF line ends), and
//     "+OK message follows" otherwise; the proxy never asks the backend for
//     a LIST just to fill in the status line.
//   - LAST (RFC 1725) is emulated: the highest message number sent by RETR
//     in this session, 0 after RSET. TOP does not count, so header scans
//     do not hide messages from LAST-based clients.
//   - RetrMsgs/RetrBytes count RETR and TOP alike (fetchmail downloads with
//     TOP n 99999999).
//   - A panic while a Mailbox is open is logged with result backend_error
//     (the Mailbox chain is the likely culprit), otherwise protocol_error.
//   - Sessions closed by Shutdown or Close keep their result (usually ok)
//     and carry the error "closed by server shutdown"; when a Mailbox was
//     open it adds "deletions not committed".
package proxy
