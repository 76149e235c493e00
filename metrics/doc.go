// Package metrics exposes popgate's Prometheus metrics on a registry of its
// own (never the global one, so tests and several servers in one process do
// not collide).
//
// It is fed from the outside, without changing the packages it watches:
// SessionEnded is the proxy's OnSessionEnd hook, WrapOpener times each
// backend login and each Mailbox command, CountListener counts active
// sessions, and RouteReload and QueueLength take what the routes and
// throttle wiring report.
package metrics
