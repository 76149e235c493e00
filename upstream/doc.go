// Package upstream is popgate's POP3 client to legacy servers. A Backend
// dials the server (optionally over TLS or STLS, optionally announcing the
// real client with a PROXY v2 header), relays the client's login, and hands
// back a pop3.Mailbox whose methods are POP3 commands on that connection.
// With Options.PoolSize it keeps a few connections greeted ahead of the
// logins that will use them (pool.go).
//
// Message bodies are streamed, never buffered whole. Every exchange runs
// under a per-response timeout and the caller's context, so a stuck server or
// a departed client never pins a goroutine. On Linux the connection arms
// TCP_QUICKACK while it waits for the rest of a reply (see ackConn), so
// servers that write with Nagle on answer without delayed-ACK stalls.
package upstream
