// Package pop3 is the POP3 wire protocol shared by every side of popgate:
// bounded line reading, command and response parsing with RFC 2449 and
// RFC 3206 response codes, a byte-faithful dot-stuffing codec, and the
// Mailbox interface that backends implement and the proxy relays to.
//
// It holds no policy and does no logging.
package pop3
